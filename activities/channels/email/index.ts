import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { RenderedEmail } from '../../../templates/registry';
import {
  missingSettings,
  offChannel,
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

export interface EmailChannelOptions {
  transport: Transporter;
  from: string;
  messageIdDomain?: string;
}

export function createEmailChannel({
  transport,
  from,
  messageIdDomain,
}: EmailChannelOptions): Channel<RenderedEmail> {
  const poolSize = (transport.options as { maxConnections?: number }).maxConnections ?? 5;
  return {
    name: 'email',
    concurrency: poolSize,
    render: (templates, event, context) => templates.renderEmail(event, context),
    async send(target: DeliveryTarget, content: RenderedEmail) {
      const messageId = deliveryMessageId(target.notificationId, target.recipientKey, messageIdDomain);
      await transport.sendMail({
        from,
        to: target.recipientName ? { name: target.recipientName, address: target.address } : target.address,
        subject: content.subject,
        html: content.html,
        text: content.text,
        messageId,
        headers: { 'X-Herald-Notification': target.notificationId, 'X-Herald-Delivery': target.deliveryId },
        // Template data must never make the mailer fetch a URL or read a local file.
        disableUrlAccess: true,
        disableFileAccess: true,
      });
      return { providerMessageId: messageId };
    },
    classify: classifySmtpError,
  };
}

/** Email from the environment: `SMTP_URL` (required), `SMTP_MAX_CONNECTIONS`, `MAIL_FROM`. */
export const emailChannelFactory: ChannelFactory = ({ env }) => {
  const missing = missingSettings(env, ['SMTP_URL']);
  if (missing.length > 0) return offChannel('email', missing);
  const url = env.SMTP_URL!;
  const maxConnections = Number(env.SMTP_MAX_CONNECTIONS ?? 5);
  if (!Number.isInteger(maxConnections) || maxConnections < 1)
    throw new Error('SMTP_MAX_CONNECTIONS must be a whole number ≥ 1');
  const transport = createSmtpTransport({ url, maxConnections });
  return {
    channel: createEmailChannel({ transport, from: env.MAIL_FROM ?? 'Herald <noreply@herald.local>' }),
    report: `email: on (${new URL(url).host}, ${maxConnections} pooled connections)`,
    close: () => transport.close(),
  };
};
