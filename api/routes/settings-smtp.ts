import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { sendSmtpTestMail, smtpErrorText } from '../../activities/channels/email/tenant-check';
import { openSecret, sealSecret, SecretBoxError } from '../../common/secret-box';
import {
  checkSmtpHost,
  maskedSmtpSettings,
  parseStoredSmtpConfig,
  SMTP_SECURITY,
  smtpSettingsInputSchema,
  toSmtpConfig,
  type SmtpConfig,
} from '../../common/settings/smtp';
import { resolverFromSettings, type UrlPolicy } from '../../common/url-safety';
import {
  deleteTenantSetting,
  getTenantSetting,
  putTenantSetting,
  type TenantSettingRow,
} from '../../db/queries/tenant-settings';
import { securedRoute } from '../auth/access';
import type { ApiConfig } from '../config';
import type { AppEnv } from '../deps';
import { sealingKey } from '../sealing-key';
import { HttpError, validationFailed } from '../errors';
import { errorResponse, jsonBody, jsonResponse } from '../schemas';

// Shared with the worker (common/settings/smtp.ts), so it is plain zod: documented inline, unnamed.
const SmtpSettingsInputSchema = smtpSettingsInputSchema;

const SmtpSettingsSchema = z
  .object({
    host: z.string().openapi({ example: 'smtp.acme.example' }),
    port: z.number().int().openapi({ example: 587 }),
    security: z.enum(SMTP_SECURITY),
    username: z.string().nullable().openapi({ example: 'herald@acme.example' }),
    from: z.string().openapi({ example: 'Acme Support <support@acme.example>' }),
    replyTo: z.string().nullable(),
    passwordSet: z.boolean(),
    passwordHint: z.string().nullable().openapi({
      example: '…d3r9',
      description:
        'the last 4 characters of a password of 12 or more; null otherwise. The password is never shown',
    }),
    version: z
      .number()
      .int()
      .openapi({ description: 'rises on every change; workers use it from their next send' }),
    updatedAt: z.string(),
  })
  .openapi('SmtpSettings');

const SmtpTestInputSchema = z
  .object({
    to: z.email({ message: 'not a valid email address' }).max(320).openapi({ example: 'me@acme.example' }),
  })
  .strict()
  .openapi('SmtpTestInput');

const SmtpTestResultSchema = z
  .object({
    messageId: z.string().openapi({ example: '<0c2a…@acme.example>' }),
    response: z.string().openapi({ example: '250 2.0.0 Ok: queued as 4Bq7' }),
  })
  .openapi('SmtpTestResult');

const tags = ['settings'];
const notConfigured = errorResponse(
  'HERALD_SECRET_KEY is not set: an SMTP password cannot be sealed or opened',
);
const noSettings = errorResponse('The tenant has no SMTP settings');

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/settings/smtp',
    tags,
    summary: "The tenant's own SMTP server (the password never shown)",
    responses: { 200: jsonResponse(SmtpSettingsSchema, 'The settings'), 404: noSettings },
  },
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/settings/smtp',
    tags,
    summary: "Send the tenant's email through its own SMTP server, as its own sender",
    description:
      'Stored whole. `security`: `tls` (TLS from the first byte, port 465 by default), `starttls` (STARTTLS required, 587) ' +
      'or `none` (plain text, a loopback host only, 25). The password is sealed with AES-256-GCM under a key derived ' +
      'from HERALD_SECRET_KEY; left out, the stored one is kept. `from` and `replyTo` replace the operator’s MAIL_FROM. ' +
      'Workers use the new settings from their next notification. The host must not be a private address. ' +
      'Check them with POST /v1/settings/smtp/test.',
    request: { body: jsonBody(SmtpSettingsInputSchema, 'The server, login and sender') },
    responses: {
      200: jsonResponse(SmtpSettingsSchema, 'Stored'),
      400: errorResponse(
        'Invalid body, naming the field (e.g. security none for a host that is not loopback)',
      ),
      422: errorResponse(
        'The host is one Herald may not connect to (a private address), or does not resolve',
      ),
      503: notConfigured,
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/settings/smtp',
    tags,
    summary: "Remove the tenant's SMTP settings: its email goes through the operator's server again",
    description:
      "Unless the operator set TENANT_SMTP_REQUIRED=true: then the tenant's email deliveries are skipped until it sets its own.",
    responses: { 204: { description: 'Removed' }, 404: noSettings },
  },
);

const testRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/settings/smtp/test',
    tags,
    summary: 'Send a real test email through the stored SMTP settings and answer with the server’s reply',
    description:
      'Synchronous, within about 12 seconds: 200 with the Message-ID the server accepted and its reply, or 422 ' +
      '`smtp_test_failed` with the server’s error (e.g. `535 5.7.8 authentication failed`).',
    request: { body: jsonBody(SmtpTestInputSchema, 'Where to send the test message') },
    responses: {
      200: jsonResponse(SmtpTestResultSchema, 'The server accepted the message'),
      400: errorResponse('Invalid body'),
      404: noSettings,
      422: errorResponse('The server refused the login, the sender or the recipient, or did not answer'),
      503: notConfigured,
    },
  },
);

type Ctx = Context<AppEnv>;

const secretKey = (c: Ctx): Buffer => sealingKey(c, 'an SMTP password');

const resolvers = new WeakMap<ApiConfig, UrlPolicy['resolver']>();

/** The same connection rules as webhook URLs: no private addresses, loopback only in development. */
function urlPolicy(config: ApiConfig): UrlPolicy {
  if (!resolvers.has(config))
    resolvers.set(config, resolverFromSettings({ HERALD_DNS_SERVERS: config.HERALD_DNS_SERVERS }));
  return { allowLoopback: config.HERALD_ALLOW_LOOPBACK_URLS === 'true', resolver: resolvers.get(config) };
}

function noSettingsError(c: Ctx): HttpError {
  const fallback =
    c.var.deps.config.TENANT_SMTP_REQUIRED === 'true'
      ? 'TENANT_SMTP_REQUIRED is set, so its email deliveries are skipped until PUT /v1/settings/smtp'
      : "its email goes through the operator's server (SMTP_URL)";
  return new HttpError(404, 'not_found', `this tenant has no SMTP settings: ${fallback}`, [
    { path: 'smtp', message: 'not set' },
  ]);
}

async function storedOr404(c: Ctx): Promise<{ row: TenantSettingRow; config: SmtpConfig }> {
  const row = await getTenantSetting(c.var.deps.db, c.var.tenantId, 'smtp');
  if (!row) throw noSettingsError(c);
  return { row, config: parseStoredSmtpConfig(c.var.tenantId, row.config) };
}

/** The stored password, opened; 503 without the key, 422 when it was sealed under another one. */
function openPassword(c: Ctx, row: TenantSettingRow): string | null {
  if (row.sealedSecret === null) return null;
  try {
    return openSecret(row.sealedSecret, secretKey(c));
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    throw new HttpError(422, 'smtp_test_failed', `${error.message}: PUT the password again`, [
      { path: 'password', message: error.message },
    ]);
  }
}

/** The masked view; the hint needs the key, and is simply left out without it. */
function view(c: Ctx, row: TenantSettingRow, config: SmtpConfig) {
  let plain: string | null = null;
  const key = c.var.deps.secretKey;
  if (row.sealedSecret !== null && key) {
    try {
      plain = openSecret(row.sealedSecret, key);
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
    }
  }
  return maskedSmtpSettings(config, {
    passwordSet: row.sealedSecret !== null,
    plainPassword: plain,
    version: row.version,
    updatedAt: row.updatedAt,
  });
}

/** Why a stored password cannot be kept, for a PUT that leaves it out. */
class PasswordRequired extends Error {}

export const smtpSettingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => {
    const { row, config } = await storedOr404(c);
    return c.json(view(c, row, config), 200);
  })
  .openapi(putRoute, async (c) => {
    const input = c.req.valid('json');
    const config = toSmtpConfig(input);
    const host = await checkSmtpHost(config, urlPolicy(c.var.deps.config));
    if (!host.ok) throw validationFailed([{ path: 'host', message: host.reason }]);
    // No login: no password. A new password is sealed; none given keeps the stored one.
    const sealed =
      config.username === null
        ? null
        : input.password !== undefined
          ? sealSecret(input.password, secretKey(c))
          : undefined;
    const client = await c.var.deps.db.connect();
    let row: TenantSettingRow;
    try {
      await client.query('BEGIN');
      row = await putTenantSetting(client, c.var.tenantId, 'smtp', { ...config }, sealed);
      // Checked on the written row, so a DELETE racing this PUT cannot leave a login without a password.
      if (config.username !== null && row.sealedSecret === null) throw new PasswordRequired();
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      if (error instanceof PasswordRequired)
        throw validationFailed([{ path: 'password', message: 'required: no password is stored yet' }], 400);
      throw error;
    } finally {
      client.release();
    }
    return c.json(view(c, row, config), 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await deleteTenantSetting(c.var.deps.db, c.var.tenantId, 'smtp'))) throw noSettingsError(c);
    return c.body(null, 204);
  })
  .openapi(testRoute, async (c) => {
    const { to } = c.req.valid('json');
    const { row, config } = await storedOr404(c);
    const password = openPassword(c, row);
    const host = await checkSmtpHost(config, urlPolicy(c.var.deps.config));
    if (!host.ok)
      throw new HttpError(422, 'smtp_test_failed', `host ${config.host}: ${host.reason}`, [
        { path: 'smtp.host', message: host.reason },
      ]);
    try {
      const result = await sendSmtpTestMail({ config, password, address: host.address }, to);
      return c.json(result, 200);
    } catch (error) {
      const text = smtpErrorText(error, password);
      throw new HttpError(422, 'smtp_test_failed', text, [{ path: 'smtp', message: text }]);
    }
  });
