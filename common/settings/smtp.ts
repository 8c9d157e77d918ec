/**
 * A tenant's own SMTP server: what `PUT /v1/settings/smtp` takes, what is stored (the showable
 * `config`; the password sealed apart, db/queries/tenant-settings.ts), what `GET` shows (never the
 * password), and the nodemailer options the API's test send and the worker's pooled transport use.
 */
import { isIP } from 'node:net';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { z } from 'zod';
import { addressProblem, checkPublicUrl, type UrlPolicy } from '../url-safety';

export const SMTP_SECURITY = ['tls', 'starttls', 'none'] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

/** The port each security mode usually listens on: 465 implicit TLS, 587 submission, 25 plain. */
export const DEFAULT_SMTP_PORTS: Record<SmtpSecurity, number> = { tls: 465, starttls: 587, none: 25 };

/** 127.0.0.0/8, ::1 (and its IPv4-mapped forms), `localhost`: plain text to them never crosses a network. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  return isIP(bare) !== 0 && addressProblem(bare)?.category === 'loopback';
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;

const host = z
  .string()
  .trim()
  .toLowerCase()
  .transform((h) => h.replace(/^\[(.*)\]$/, '$1'))
  .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), 'must be a host name or an IP address');

const emailAddress = z.email();

export interface Mailbox {
  name?: string;
  address: string;
}

/**
 * `support@acme.example` or `Acme Support <support@acme.example>` (the name may be quoted); null when
 * it is neither. Exactly one address: a list would make every notification go out from several.
 */
export function parseMailbox(text: string): Mailbox | null {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return null;
  const trimmed = text.trim();
  const named = /^(.*?)\s*<([^<>\s]+)>$/.exec(trimmed);
  const address = named ? named[2]! : trimmed;
  if (!emailAddress.safeParse(address).success) return null;
  if (!named) return { address };
  let name = named[1]!.trim();
  if (/^".*"$/.test(name)) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
  if (/[<>"]/.test(name) || name.length > 200) return null;
  return name ? { name, address } : { address };
}

const mailbox = z
  .string()
  .max(520)
  .refine(
    (text) => parseMailbox(text) !== null,
    'must be an address (support@acme.example) or a name and an address (Acme Support <support@acme.example>)',
  );

const username = z.string().min(1).max(255);
const password = z.string().min(1).max(1024);

/**
 * The body of `PUT /v1/settings/smtp`. `port` defaults by `security`; `password` left out keeps the
 * stored one; `username` left out means no login (and no password). `none` (plain text) only to a
 * loopback host: across a network it would hand the password and every message to the path.
 */
export const smtpSettingsInputSchema = z
  .object({
    host,
    port: z.number().int().min(1).max(65535).optional(),
    security: z.enum(SMTP_SECURITY),
    username: username.optional(),
    password: password.optional(),
    from: mailbox,
    replyTo: mailbox.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.security === 'none' && !isLoopbackHost(input.host))
      ctx.addIssue({
        code: 'custom',
        path: ['security'],
        message: `none (plain text) is only allowed for a loopback host (127.0.0.0/8, ::1, localhost), not ${input.host}: use tls or starttls`,
      });
    if (input.password !== undefined && input.username === undefined)
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'a password needs a username' });
  });

export type SmtpSettingsInput = z.infer<typeof smtpSettingsInputSchema>;

/** What is stored in tenant_settings.config (showable); the password is the row's sealed secret. */
export const smtpConfigSchema = z.object({
  host,
  port: z.number().int().min(1).max(65535),
  security: z.enum(SMTP_SECURITY),
  username: username.nullable(),
  from: mailbox,
  replyTo: mailbox.nullable(),
});

export type SmtpConfig = z.infer<typeof smtpConfigSchema>;

export function toSmtpConfig(input: SmtpSettingsInput): SmtpConfig {
  return {
    host: input.host,
    port: input.port ?? DEFAULT_SMTP_PORTS[input.security],
    security: input.security,
    username: input.username ?? null,
    from: input.from,
    replyTo: input.replyTo ?? null,
  };
}

/** A stored config read back; throws naming the tenant when it does not parse (edited by hand?). */
export function parseStoredSmtpConfig(tenantId: string, config: unknown): SmtpConfig {
  const parsed = smtpConfigSchema.safeParse(config);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`stored SMTP settings of tenant ${tenantId} are invalid (${problems})`);
  }
  return parsed.data;
}

/** Passwords shorter than this show no hint at all: four characters of eight would be half of it. */
const HINT_MIN_LENGTH = 12;

/** `…` and the last 4 characters of a password of 12 or more characters; null otherwise. */
export const passwordHint = (plain: string | null): string | null =>
  plain !== null && plain.length >= HINT_MIN_LENGTH ? `…${plain.slice(-4)}` : null;

export interface SmtpSettingsView extends SmtpConfig {
  passwordSet: boolean;
  passwordHint: string | null;
  version: number;
  updatedAt: string;
}

/** What `GET` shows: the config, whether a password is set and at most its last 4 characters. */
export function maskedSmtpSettings(
  config: SmtpConfig,
  meta: { passwordSet: boolean; plainPassword: string | null; version: number; updatedAt: string },
): SmtpSettingsView {
  return {
    ...config,
    passwordSet: meta.passwordSet,
    passwordHint: passwordHint(meta.plainPassword),
    version: meta.version,
    updatedAt: meta.updatedAt,
  };
}

/** The From and Reply-To of the tenant's mail, as nodemailer takes them (it encodes the names). */
export function smtpSender(config: SmtpConfig): { from: Mailbox; replyTo?: Mailbox } {
  const from = parseMailbox(config.from)!;
  const replyTo = config.replyTo === null ? null : parseMailbox(config.replyTo);
  return replyTo ? { from, replyTo } : { from };
}

export interface SmtpTimeouts {
  connectionTimeout: number;
  greetingTimeout: number;
  socketTimeout: number;
}

/** The pooled transport's (the same as SMTP_URL's): generous, a busy server is not a broken one. */
export const POOL_TIMEOUTS: SmtpTimeouts = {
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 30_000,
};

/**
 * nodemailer options for the tenant's server. `tls`: TLS from the first byte; `starttls`: STARTTLS
 * required (never a silent fall back to plain text when the server, or an attacker, leaves it out);
 * `none`: plain text, loopback only (the schema says so). `address`, when given, is the checked
 * address to connect to (see {@link checkSmtpHost}); the certificate is still checked against `host`.
 */
export function smtpTransportOptions(
  config: SmtpConfig,
  plainPassword: string | null,
  options: { address?: string; timeouts?: SmtpTimeouts } = {},
): SMTPTransport.Options {
  const pinned = options.address !== undefined && options.address !== config.host;
  return {
    host: options.address ?? config.host,
    // The certificate (and SNI) are for the name, whichever checked address the socket goes to.
    ...(pinned && isIP(config.host) === 0 ? { tls: { servername: config.host } } : {}),
    port: config.port,
    secure: config.security === 'tls',
    requireTLS: config.security === 'starttls',
    ignoreTLS: config.security === 'none',
    auth: config.username !== null ? { user: config.username, pass: plainPassword ?? '' } : undefined,
    ...(options.timeouts ?? POOL_TIMEOUTS),
  };
}

export type SmtpHostCheck = { ok: true; address: string } | { ok: false; reason: string; temporary: boolean };

/**
 * Whether Herald may connect to the tenant's host: the same rules as webhook URLs (no private,
 * link-local… addresses; loopback only with HERALD_ALLOW_LOOPBACK_URLS=true), so a tenant cannot
 * point Herald at its operator's own network. `address` is the checked one to connect to, so a DNS
 * answer that changes afterwards (rebinding) cannot redirect the connection.
 */
export async function checkSmtpHost(config: SmtpConfig, policy: UrlPolicy): Promise<SmtpHostCheck> {
  const literal = isIP(config.host) === 6 ? `[${config.host}]` : config.host;
  const check = await checkPublicUrl(`https://${literal}:${config.port}/`, policy);
  if (!check.ok) return { ok: false, reason: check.reason, temporary: check.temporary ?? false };
  const address = check.addresses.find((a) => isIP(a) === 4) ?? check.addresses[0]!;
  return { ok: true, address };
}
