/**
 * The peer: what a team would build instead of Herald. BullMQ on Redis with a job per recipient; a
 * PostgreSQL delivery log of its own, one row per recipient written in bulk at enqueue and updated
 * after each send; each job renders the compiled template for its recipient and sends it through
 * the same pooled nodemailer. Timed from the first log row to the last job completed.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { createSmtpTransport } from '../../activities/channels/email';
import { createPool } from '../../db/pool';
import { deadline, secondsSince } from '../lib/concurrency';
import { mailFor, recipientOf, renderFor } from '../lib/message';
import { startRedis } from '../lib/redis';
import type { Measurement } from '../lib/report';
import { expectMails, log, type RowContext } from './context';

const NOTIFICATION_ID = 'bench-peer';
/** Log rows and jobs handed over per round trip while enqueueing. */
const ENQUEUE_CHUNK = 1_000;

interface PeerJob {
  deliveryId: string;
  recipient: number;
}

export async function peerRow(ctx: RowContext): Promise<Measurement[]> {
  const { flags } = ctx.config;
  const n = ctx.config.baselineMessages;
  const redis = await startRedis(ctx.config.redisUrl, ctx.stack.dir);
  const connection = { host: redis.host, port: redis.port, maxRetriesPerRequest: null };
  const queueName = `peer-${Date.now()}`;
  // A team's own pool, sized as Herald's worker sizes its own (db/pool.ts default).
  const db = createPool(ctx.stack.databaseUrl, 10);
  const transport = createSmtpTransport({
    url: ctx.stack.sink.url,
    maxConnections: ctx.stack.smtpConnections,
  });
  const queue = new Queue<PeerJob>(queueName, { connection });
  let worker: Worker<PeerJob> | undefined;
  try {
    await db.query(`DROP TABLE IF EXISTS bench_peer_deliveries`);
    await db.query(
      `CREATE TABLE bench_peer_deliveries (
         id          bigserial PRIMARY KEY,
         recipient   text NOT NULL,
         address     text NOT NULL,
         status      text NOT NULL DEFAULT 'queued',
         attempts    integer NOT NULL DEFAULT 0,
         sent_at     timestamptz,
         created_at  timestamptz NOT NULL DEFAULT now()
       )`,
    );
    let completed = 0;
    let failed = 0;
    let lastFailure = '';
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const settle = () => {
      if (completed + failed === n) allDone();
    };
    let emptyBodies = 0;
    worker = new Worker<PeerJob>(
      queueName,
      async (job: Job<PeerJob>) => {
        const email = renderFor(ctx.stack.templates, job.data.recipient, NOTIFICATION_ID);
        if (!email.html) emptyBodies++;
        await transport.sendMail(mailFor(email, job.data.recipient, NOTIFICATION_ID));
        await db.query(
          `UPDATE bench_peer_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = now() WHERE id = $1`,
          [job.data.deliveryId],
        );
      },
      { connection, concurrency: flags['peer-concurrency'] },
    );
    worker.on('completed', () => {
      completed++;
      settle();
    });
    worker.on('failed', (job, error) => {
      if (job && job.attemptsMade < (job.opts.attempts ?? 1)) return; // BullMQ retries it
      failed++;
      lastFailure = error.message;
      settle();
    });
    await worker.waitUntilReady();

    const seconds = await expectMails(ctx, n, 'peer', async () => {
      const start = performance.now();
      for (let from = 1; from <= n; from += ENQUEUE_CHUNK) {
        const recipients = Array.from({ length: Math.min(ENQUEUE_CHUNK, n - from + 1) }, (_, k) => from + k);
        const { rows } = await db.query<{ id: string }>(
          `INSERT INTO bench_peer_deliveries (recipient, address)
           SELECT * FROM unnest($1::text[], $2::text[]) RETURNING id`,
          [recipients.map((i) => recipientOf(i).externalId), recipients.map((i) => recipientOf(i).email)],
        );
        await queue.addBulk(
          rows.map((row, k) => ({
            name: 'send',
            data: { deliveryId: row.id, recipient: recipients[k]! },
            opts: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true },
          })),
        );
      }
      const limit = deadline(flags['timeout-minutes'] * 60_000, `peer (${completed} of ${n} done)`);
      try {
        await Promise.race([done, limit.promise]);
      } finally {
        limit.clear();
      }
      return secondsSince(start);
    });
    const { rows } = await db.query<{ sent: string }>(
      `SELECT count(*) AS sent FROM bench_peer_deliveries WHERE status = 'sent'`,
    );
    if (failed > 0 || Number(rows[0]!.sent) !== n)
      throw new Error(`peer: ${rows[0]!.sent} of ${n} logged as sent, ${failed} failed (${lastFailure})`);
    if (emptyBodies > 0) throw new Error(`peer: ${emptyBodies} empty bodies`);
    log(`peer: ${n} mails in ${seconds.toFixed(2)} s`);
    return [
      {
        key: 'peer',
        label: 'peer: BullMQ + PG delivery log',
        n,
        seconds,
        value: n / seconds,
        unit: 'mails/s',
        notes: `concurrency ${flags['peer-concurrency']}, ${ctx.stack.smtpConnections} SMTP connections, ${redis.origin}`,
      },
    ];
  } finally {
    await worker?.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    transport.close();
    await db.end();
    await redis.stop();
  }
}
