import nodemailer from 'nodemailer';
import {
  smtpSender,
  smtpTransportOptions,
  type SmtpConfig,
  type SmtpTimeouts,
} from '../../../common/settings/smtp';

/** A person waits for these: a dead server is reported within seconds, not after the pool's half minute. */
const CHECK_TIMEOUTS: SmtpTimeouts = {
  connectionTimeout: 5_000,
  greetingTimeout: 5_000,
  socketTimeout: 8_000,
};
/**
 * The whole exchange, whatever each step takes: well inside an HTTP client's usual 20–30 s, since a
 * host that accepts the connection and never greets (a proxy, a filtered port) would otherwise hold
 * the request to the deadline.
 */
const CHECK_DEADLINE_MS = 12_000;

export interface SmtpTarget {
  config: SmtpConfig;
  password: string | null;
  /** The checked address to connect to (common/settings/smtp.ts checkSmtpHost); the host itself if absent. */
  address?: string;
}

/**
 * The server's own words for a failure (`535 5.7.8 authentication failed`), else the error's code
 * and message; never the password, should a server or library ever echo it.
 */
export function smtpErrorText(error: unknown, password: string | null): string {
  const e = (error ?? {}) as { response?: unknown; code?: unknown; message?: unknown };
  let text: string;
  if (typeof e.response === 'string' && e.response.trim()) text = e.response.trim();
  else {
    const message = typeof e.message === 'string' ? e.message : String(error);
    text = typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
  }
  return password ? text.split(password).join('***') : text;
}

/** Sends one real message through the tenant's server; the server's reply, or throws its error. */
export async function sendSmtpTestMail(
  target: SmtpTarget,
  to: string,
): Promise<{ messageId: string; response: string }> {
  const transport = nodemailer.createTransport(
    smtpTransportOptions(target.config, target.password, {
      address: target.address,
      timeouts: CHECK_TIMEOUTS,
    }),
  );
  try {
    const info = await withDeadline(
      transport.sendMail({
        ...smtpSender(target.config),
        to,
        subject: 'Herald SMTP test',
        text:
          'This message was sent by POST /v1/settings/smtp/test.\n' +
          "If you can read it, Herald can send this tenant's email through this server.\n",
        disableUrlAccess: true,
        disableFileAccess: true,
      }),
    );
    return { messageId: info.messageId, response: info.response };
  } finally {
    transport.close();
  }
}

/** Connects and logs in (no message); throws the server's error. */
export async function verifySmtpLogin(
  target: SmtpTarget,
  timeouts: SmtpTimeouts = CHECK_TIMEOUTS,
): Promise<void> {
  const transport = nodemailer.createTransport(
    smtpTransportOptions(target.config, target.password, { address: target.address, timeouts }),
  );
  try {
    await withDeadline(transport.verify());
  } finally {
    transport.close();
  }
}

async function withDeadline<T>(work: Promise<T>, ms = CHECK_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the SMTP server did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
