/**
 * The limit: the project's nodemailer, pooled like Herald's email channel (same transport factory,
 * same pool size), sending Herald's rendered message into the sink as fast as it accepts. A second
 * measurement sends the same messages composed by Herald's own composer as raw buffers, which is how
 * Herald's email channel sends: the cheapest send through nodemailer, beside the usual one a team
 * writes (and the peer uses), which stays P2's anchor.
 */
import type { SendMailOptions } from 'nodemailer';
import { createSmtpTransport } from '../../activities/channels/email';
import { composeMail } from '../../activities/channels/email/mime';
import { inFlight, secondsSince } from '../lib/concurrency';
import { mailFor, partsFor, renderFor } from '../lib/message';
import type { Measurement } from '../lib/report';
import { expectMails, log, type RowContext } from './context';

const NOTIFICATION_ID = 'bench-limit';

export async function limitRow(ctx: RowContext): Promise<Measurement[]> {
  const n = ctx.config.baselineMessages;
  const connections = ctx.stack.smtpConnections;
  const email = renderFor(ctx.stack.templates, 1, NOTIFICATION_ID);
  const limit = await sendAll(ctx, 'limit', (i) => mailFor(email, i + 1, NOTIFICATION_ID));
  const raw = await sendAll(ctx, 'limit (raw)', (i) => {
    const { envelope, raw } = composeMail(partsFor(email, i + 1, NOTIFICATION_ID));
    return { envelope, raw };
  });
  return [
    {
      key: 'limit',
      label: 'limit: pooled nodemailer → sink',
      n,
      seconds: limit,
      value: n / limit,
      unit: 'mails/s',
      notes: `${connections} SMTP connections; nodemailer composes each message; P2's anchor`,
    },
    {
      key: 'limit.raw',
      label: 'limit: the same, composed by Herald',
      n,
      seconds: raw,
      value: n / raw,
      unit: 'mails/s',
      notes: `${connections} SMTP connections; each message composed by Herald's mime.ts and sent raw, as Herald sends`,
    },
  ];
}

/** Seconds to send n mails through a fresh pool of the bench's size. */
async function sendAll(ctx: RowContext, what: string, mail: (i: number) => SendMailOptions): Promise<number> {
  const n = ctx.config.baselineMessages;
  const connections = ctx.stack.smtpConnections;
  const transport = createSmtpTransport({ url: ctx.stack.sink.url, maxConnections: connections });
  try {
    const seconds = await expectMails(ctx, n, what, async () => {
      const start = performance.now();
      // The pool queues what its connections cannot take yet; a bounded window keeps memory flat at 1M.
      await inFlight(n, connections * 40, (i) => transport.sendMail(mail(i)));
      return secondsSince(start);
    });
    log(`${what}: ${n} mails in ${seconds.toFixed(2)} s`);
    return seconds;
  } finally {
    transport.close();
  }
}
