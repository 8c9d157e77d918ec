/**
 * The limit: the project's nodemailer, pooled like Herald's email channel (same transport factory,
 * same pool size), sending Herald's rendered message into the sink as fast as it accepts.
 */
import { createSmtpTransport } from '../../activities/channels/email';
import { inFlight, secondsSince } from '../lib/concurrency';
import { mailFor, renderFor } from '../lib/message';
import type { Measurement } from '../lib/report';
import { expectMails, log, type RowContext } from './context';

const NOTIFICATION_ID = 'bench-limit';

export async function limitRow(ctx: RowContext): Promise<Measurement[]> {
  const n = ctx.config.baselineMessages;
  const connections = ctx.stack.smtpConnections;
  const email = renderFor(ctx.stack.templates, 1, NOTIFICATION_ID);
  const transport = createSmtpTransport({ url: ctx.stack.sink.url, maxConnections: connections });
  try {
    const seconds = await expectMails(ctx, n, 'limit', async () => {
      const start = performance.now();
      // The pool queues what its connections cannot take yet; a bounded window keeps memory flat at 1M.
      await inFlight(n, connections * 40, (i) => transport.sendMail(mailFor(email, i + 1, NOTIFICATION_ID)));
      return secondsSince(start);
    });
    log(`limit: ${n} mails in ${seconds.toFixed(2)} s`);
    return [
      {
        key: 'limit',
        label: 'limit: pooled nodemailer → sink',
        n,
        seconds,
        value: n / seconds,
        unit: 'mails/s',
        notes: `${connections} SMTP connections`,
      },
    ];
  } finally {
    transport.close();
  }
}
