import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { checkTwilioAccount } from '../../activities/channels/twilio/account-check';
import { SecretBoxError } from '../../common/secret-box';
import {
  ACCOUNT_SID_PATTERN,
  AUTH_TOKEN_PATTERN,
  E164_PATTERN,
  maskedTwilioSettings,
  MESSAGING_SERVICE_SID_PATTERN,
  openTwilioSettings,
  sealTwilioSettings,
  WHATSAPP_FROM_PATTERN,
  type TwilioSettings,
} from '../../common/settings/twilio';
import {
  deleteTenantSetting,
  getTenantSetting,
  putTenantSetting,
  type TenantSettingRow,
} from '../../db/queries/tenant-settings';
import { lockStoredTwilioAccount } from '../../db/queries/twilio';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { sealingKey } from '../sealing-key';
import { HttpError, notFound, validationFailed } from '../errors';
import { errorResponse, jsonBody, jsonResponse } from '../schemas';

const ACCOUNT_SID_EXAMPLE = 'AC0123456789abcdef0123456789abcdef';

const accountSid = z
  .string()
  .regex(ACCOUNT_SID_PATTERN, 'must be a Twilio account SID: AC and 32 hex digits')
  .openapi({ example: ACCOUNT_SID_EXAMPLE });

const smsFrom = z
  .string()
  .refine(
    (v) => E164_PATTERN.test(v) || MESSAGING_SERVICE_SID_PATTERN.test(v),
    'must be an E.164 number such as +15005550006 or a Messaging Service SID (MG and 32 hex digits)',
  )
  .nullable()
  .openapi({ example: '+15005550006', description: 'the SMS sender; null: the tenant sends no SMS' });

const whatsappFrom = z
  .string()
  .regex(WHATSAPP_FROM_PATTERN, 'must be whatsapp:+… or an E.164 number such as +14155238886')
  .nullable()
  .openapi({
    example: 'whatsapp:+14155238886',
    description: 'the WhatsApp sender, stored as whatsapp:+…; null: the tenant sends no WhatsApp',
  });

const TwilioSettingsInputSchema = z
  .object({
    accountSid,
    authToken: z
      .string()
      .regex(AUTH_TOKEN_PATTERN, 'must be a Twilio auth token: 32 hex digits')
      .optional()
      .openapi({
        description:
          'write-only, sealed at rest; omit to keep the stored one (required the first time and when accountSid changes)',
        example: '0123456789abcdef0123456789abcdef',
      }),
    smsFrom: smsFrom.optional(),
    whatsappFrom: whatsappFrom.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (!input.smsFrom && !input.whatsappFrom)
      ctx.addIssue({ code: 'custom', path: ['smsFrom'], message: 'give smsFrom, whatsappFrom or both' });
  })
  .openapi('TwilioSettingsInput');

const TwilioSettingsSchema = z
  .object({
    accountSid,
    authTokenSet: z.literal(true),
    authTokenHint: z.string().nullable().openapi({
      example: '…cdef',
      description: 'at most the last 4 characters of the token; the token itself is never shown',
    }),
    smsFrom,
    whatsappFrom,
    version: z.number().int().openapi({ description: 'rises on every change' }),
    updatedAt: z.string(),
  })
  .openapi('TwilioSettings');

const TwilioTestResultSchema = z
  .object({
    ok: z.literal(true),
    accountSid,
    friendlyName: z.string().openapi({ example: 'Acme Help Desk' }),
    status: z.string().openapi({ example: 'active' }),
    type: z.string().nullable().openapi({ example: 'Full' }),
  })
  .openapi('TwilioTestResult');

const tags = ['settings'];
const notConfigured = errorResponse(
  'HERALD_SECRET_KEY is not set: Twilio settings cannot be sealed or opened',
);
const noSettings = errorResponse("The tenant has no Twilio settings (the operator's are used)");

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/settings/twilio',
    tags,
    summary: "The tenant's own Twilio account and senders (the auth token masked)",
    responses: {
      200: jsonResponse(TwilioSettingsSchema, 'The settings; the token is never shown'),
      404: noSettings,
      503: notConfigured,
    },
  },
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/settings/twilio',
    tags,
    summary: "Send the tenant's SMS and WhatsApp through its own Twilio account",
    description:
      'Stored whole (a sender left out is removed). The auth token is sealed with AES-256-GCM under a key derived from ' +
      "HERALD_SECRET_KEY. Workers use the new settings from their next send. Status callbacks of the tenant's messages are " +
      'verified with this token. Check the credentials with POST /v1/settings/twilio/test.',
    request: { body: jsonBody(TwilioSettingsInputSchema, 'The account, token and senders') },
    responses: {
      200: jsonResponse(TwilioSettingsSchema, 'Stored'),
      400: errorResponse('Invalid body, naming the field'),
      422: errorResponse('authToken missing: none is stored yet, or accountSid changed'),
      503: notConfigured,
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/settings/twilio',
    tags,
    summary: "Remove the tenant's Twilio settings: SMS and WhatsApp go back to the operator's account",
    responses: { 204: { description: 'Removed' }, 404: noSettings },
  },
);

const testRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/settings/twilio/test',
    tags,
    summary: 'Check the stored Twilio credentials against the Twilio API',
    description:
      'Fetches the account (GET /2010-04-01/Accounts/{AccountSid}.json) with the stored SID and token and answers with ' +
      "Twilio's word: 200 with the account's name and status, or 422 `twilio_test_failed` with Twilio's error code and " +
      'message (e.g. `Twilio 20003: Authenticate` for a wrong SID or token). Sends no message.',
    responses: {
      200: jsonResponse(TwilioTestResultSchema, 'Twilio accepted the credentials'),
      404: noSettings,
      422: errorResponse('Twilio refused the credentials, the account cannot send, or Twilio did not answer'),
      503: notConfigured,
    },
  },
);

type Ctx = Context<AppEnv>;

const secretKey = (c: Ctx): Buffer => sealingKey(c, 'a Twilio auth token');

function opened(row: TenantSettingRow, key: Buffer): TwilioSettings {
  try {
    return openTwilioSettings(row, key);
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    throw new HttpError(500, 'secret_unreadable', error.message);
  }
}

async function storedOr404(c: Ctx): Promise<TenantSettingRow> {
  const row = await getTenantSetting(c.var.deps.db, c.var.tenantId, 'twilio');
  if (!row) throw notFound("the tenant's Twilio settings (SMS and WhatsApp use the operator's)");
  return row;
}

/** The Twilio error Herald saw, on the field a person would fix. */
function testFailure(result: { code: number | null; httpStatus: number | null; message: string }) {
  const text = result.code === null ? result.message : `Twilio ${result.code}: ${result.message}`;
  const path =
    result.code === 20003 || result.httpStatus === 401
      ? 'authToken'
      : result.httpStatus === null
        ? 'TWILIO_API_BASE_URL'
        : 'accountSid';
  return new HttpError(422, 'twilio_test_failed', text, [{ path, message: text }]);
}

export const twilioSettingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => {
    const key = secretKey(c);
    const row = await storedOr404(c);
    return c.json(maskedTwilioSettings(opened(row, key), row.updatedAt), 200);
  })
  .openapi(putRoute, async (c) => {
    const key = secretKey(c);
    const input = c.req.valid('json');
    const { config, sealedSecret } = sealTwilioSettings(
      {
        accountSid: input.accountSid,
        authToken: input.authToken,
        smsFrom: input.smsFrom ?? null,
        whatsappFrom: input.whatsappFrom ?? null,
      },
      key,
    );
    // Keeping the stored token needs one for the same account, still there when the row is written.
    const client = await c.var.deps.db.connect();
    let row: TenantSettingRow;
    try {
      await client.query('BEGIN');
      if (sealedSecret === undefined) {
        const storedSid = await lockStoredTwilioAccount(client, c.var.tenantId);
        if (storedSid !== input.accountSid) {
          throw validationFailed([
            {
              path: 'authToken',
              message: storedSid ? 'required: accountSid changed' : 'required: no auth token is stored yet',
            },
          ]);
        }
      }
      row = await putTenantSetting(client, c.var.tenantId, 'twilio', { ...config }, sealedSecret);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
    return c.json(maskedTwilioSettings(opened(row, key), row.updatedAt), 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await deleteTenantSetting(c.var.deps.db, c.var.tenantId, 'twilio')))
      throw notFound("the tenant's Twilio settings");
    return c.body(null, 204);
  })
  .openapi(testRoute, async (c) => {
    const key = secretKey(c);
    const settings = opened(await storedOr404(c), key);
    const result = await checkTwilioAccount(settings, { apiBaseUrl: c.var.deps.config.TWILIO_API_BASE_URL });
    if (!result.ok) throw testFailure(result);
    return c.json(result, 200);
  });
