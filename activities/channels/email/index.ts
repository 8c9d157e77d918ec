import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { RenderedEmail } from '../../../templates/registry';
import { composeMail } from './mime';
import { TenantSmtpError, TenantTransports } from './tenant-transports';
import { SECRET_KEY_VARIABLE, secretKeyIfSet } from '../../../common/secret-box';
import { resolverFromSettings } from '../../../common/url-safety';
import {
  ChannelNotConfiguredError,
  type Channel,
  type ChannelFactory,
  type DeliveryTarget,
  type SendFailure,
} from '../types';

export interface SmtpTransportOptions {
  /**
   * `smtp://user:pass@host:port` (STARTTLS required) or `smtps://…` (TLS from the first byte).
   * `?tls=off` sends in plain text, to a loopback sink only; `?tls=unverified` still requires
   * STARTTLS but accepts a certificate nobody signed (a development sink on a private network).
   */
  url: string;
  maxConnections?: number;
}

const TLS_MODES = ['off', 'unverified'] as const;
type TlsMode = (typeof TLS_MODES)[number] | 'verified';

/** Hosts that are this machine: plain text to them never crosses a network. */
const isLoopbackHost = (hostname: string): boolean =>
  hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

/** What is wrong with an SMTP_URL, in a sentence naming it; null when it is usable. */
export function smtpUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'SMTP_URL must be a URL such as smtp://user:pass@host:587';
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:')
    return `SMTP_URL must start with smtp:// or smtps://, got ${parsed.protocol}//`;
  const tls = parsed.searchParams.get('tls');
  if (tls !== null && !(TLS_MODES as readonly string[]).includes(tls))
    return `SMTP_URL: tls must be ${TLS_MODES.join(' or ')}, not ${JSON.stringify(tls)}`;
  if (tls !== null && parsed.protocol === 'smtps:')
    return 'SMTP_URL: tls= applies to smtp:// only (smtps:// is always TLS)';
  // Plain text across a network would hand the SMTP password and every message to anyone on the path.
  if (tls === 'off' && !isLoopbackHost(parsed.hostname))
    return `SMTP_URL: tls=off is only allowed for a loopback host (127.0.0.1, ::1, localhost), not ${parsed.hostname}`;
  return null;
}

/** A pooled SMTP transport; one per worker process. Throws naming SMTP_URL when it is not usable. */
export function createSmtpTransport({ url, maxConnections = 5 }: SmtpTransportOptions): Transporter {
  const problem = smtpUrlProblem(url);
  if (problem) throw new Error(problem);
  const parsed = new URL(url);
  const secure = parsed.protocol === 'smtps:';
  const tls: TlsMode = (parsed.searchParams.get('tls') as TlsMode | null) ?? 'verified';
  return nodemailer.createTransport({
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : secure ? 465 : 587,
    secure,
    // smtp:// never falls back to plain text when the server offers no STARTTLS (or an attacker strips it).
    requireTLS: !secure && tls !== 'off',
    ignoreTLS: tls === 'off',
    ...(tls === 'unverified' ? { tls: { rejectUnauthorized: false } } : {}),
    auth: parsed.username
      ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) }
      : undefined,
    pool: true,
    maxConnections,
    maxMessages: 1000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
}

/**
 * The Message-ID of a delivery, derived from notification × recipient × channel only, so a copy sent
 * twice after a crash carries the same id and is recognisable downstream.
 */
export function deliveryMessageId(
  notificationId: string,
  recipientKey: string,
  domain = 'herald.local',
): string {
  const recipientHash = createHash('sha256').update(recipientKey).digest('hex').slice(0, 16);
  return `<${notificationId}.${recipientHash}.email@${domain}>`;
}

interface SmtpError {
  responseCode?: number;
  code?: string;
  response?: string;
  message?: string;
}

/** SMTP replies: 5xx is permanent, 4xx and connection trouble are worth another attempt. */
export function classifySmtpError(error: unknown): SendFailure {
  const e = (error ?? {}) as SmtpError;
  const reason = (e.response ?? e.message ?? String(error)).trim();
  if (typeof e.responseCode === 'number') {
    if (e.responseCode >= 500)
      return { kind: 'permanent', reason: `SMTP ${e.responseCode}: ${stripCode(reason)}` };
    return { kind: 'transient', reason: `SMTP ${e.responseCode}: ${stripCode(reason)}` };
  }
  // Authentication failures without a reply code, and malformed messages, will not heal by retrying.
  if (e.code === 'EAUTH' || e.code === 'EENVELOPE' || e.code === 'EMESSAGE')
    return { kind: 'permanent', reason };
  return { kind: 'transient', reason: e.code ? `${e.code}: ${reason}` : reason };
}

const stripCode = (reply: string): string => reply.replace(/^\d{3}[ -](\d\.\d\.\d+ )?/, '');

/** The operator's own server (SMTP_URL) and sender (MAIL_FROM), for tenants without settings. */
export interface OperatorSmtp {
  transport: Transporter;
  from: string;
  replyTo?: string;
}

export interface EmailChannelOptions {
  /** null: no SMTP_URL; tenants without settings of their own get `skipped`. */
  operator: OperatorSmtp | null;
  /** Per-tenant servers (PUT /v1/settings/smtp); absent: every tenant uses the operator's. */
  tenants?: TenantTransports;
  /** TENANT_SMTP_REQUIRED: a tenant without settings is never sent through the operator's server. */
  tenantRequired?: boolean;
  /** Sends in flight at once (each transport's pool size). */
  concurrency?: number;
  messageIdDomain?: string;
}

/** Why a tenant without settings gets no mail, once the operator's server is not an option. */
const noTenantSmtp = (tenantRequired: boolean): TenantSmtpError | ChannelNotConfiguredError =>
  tenantRequired
    ? new TenantSmtpError(
        'skipped',
        "tenant has no SMTP settings (PUT /v1/settings/smtp) and TENANT_SMTP_REQUIRED=true forbids the operator's SMTP_URL",
      )
    : new ChannelNotConfiguredError('email', ['SMTP_URL']);

export function createEmailChannel({
  operator,
  tenants,
  tenantRequired = false,
  concurrency,
  messageIdDomain,
}: EmailChannelOptions): Channel<RenderedEmail> {
  const poolSize =
    concurrency ??
    (operator?.transport.options as { maxConnections?: number } | undefined)?.maxConnections ??
    5;
  return {
    name: 'email',
    concurrency: poolSize,
    render: (templates, event, context) => templates.renderEmail(event, context),
    async send(target: DeliveryTarget, content: RenderedEmail) {
      const messageId = deliveryMessageId(target.notificationId, target.recipientKey, messageIdDomain);
      const lease = tenants ? await tenants.acquire(target.tenantId, target.notificationId) : null;
      if (!lease && (tenantRequired || !operator)) throw noTenantSmtp(tenantRequired);
      const { transport, from, replyTo } = lease?.smtp ?? operator!;
      try {
        // Composed here as one Buffer (see mime.ts): nodemailer only speaks SMTP for it.
        const mail = composeMail({
          from,
          ...(replyTo ? { replyTo } : {}),
          to: target.recipientName ? { name: target.recipientName, address: target.address } : target.address,
          subject: content.subject,
          html: content.html,
          text: content.text,
          messageId,
          headers: {
            'X-Herald-Notification': target.notificationId,
            'X-Herald-Delivery': target.deliveryId,
            // RFC 2369 + RFC 8058: mail clients show an unsubscribe button that POSTs to the link.
            ...(target.unsubscribeUrl
              ? {
                  'List-Unsubscribe': `<${target.unsubscribeUrl}>`,
                  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
                }
              : {}),
          },
        });
        await transport.sendMail({ envelope: mail.envelope, raw: mail.raw, messageId });
      } finally {
        lease?.release();
      }
      return { providerMessageId: messageId };
    },
    classify: (error) => {
      if (error instanceof TenantSmtpError) return { kind: error.kind, reason: error.message };
      if (error instanceof ChannelNotConfiguredError) return { kind: 'skipped', reason: error.message };
      return classifySmtpError(error);
    },
  };
}

/**
 * Email from its settings (the worker configuration): `SMTP_URL` (the operator's server), `SMTP_MAX_CONNECTIONS`, `MAIL_FROM`;
 * per-tenant servers from the database (`SMTP_TENANT_TRANSPORTS_MAX` kept open, passwords opened with
 * HERALD_SECRET_KEY); `TENANT_SMTP_REQUIRED=true` never falls back to SMTP_URL. Without
 * SMTP_URL the channel still sends for the tenants that have their own settings.
 */
export const emailChannelFactory: ChannelFactory = ({ settings, db }) => {
  const secretKey = secretKeyIfSet(settings);
  const url = settings.SMTP_URL;
  const maxConnections = settings.SMTP_MAX_CONNECTIONS;
  const transportsMax = settings.SMTP_TENANT_TRANSPORTS_MAX;
  const tenantRequired = settings.TENANT_SMTP_REQUIRED === 'true';
  const allowLoopback = settings.HERALD_ALLOW_LOOPBACK_URLS === 'true';
  const operatorTransport = url && !tenantRequired ? createSmtpTransport({ url, maxConnections }) : null;
  const tenants = new TenantTransports({
    db,
    secretKey,
    max: transportsMax,
    maxConnections,
    urlPolicy: { allowLoopback, resolver: resolverFromSettings(settings) },
  });
  const operatorReport = operatorTransport
    ? `${new URL(url!).host}, ${maxConnections} pooled connections`
    : tenantRequired
      ? 'no operator server: TENANT_SMTP_REQUIRED=true'
      : 'no operator server: SMTP_URL is not set';
  return {
    channel: createEmailChannel({
      operator: operatorTransport ? { transport: operatorTransport, from: settings.MAIL_FROM } : null,
      tenants,
      tenantRequired,
      concurrency: maxConnections,
    }),
    report: `email: on (${operatorReport}; tenant servers: up to ${transportsMax}${secretKey ? '' : `, none with a password: ${SECRET_KEY_VARIABLE} is not set`})`,
    close: async () => {
      operatorTransport?.close();
      await tenants.close();
    },
  };
};
