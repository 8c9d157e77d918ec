import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { newDevice, startPushService, vapid, VAPID_SUBJECT, type PushService } from './support/push-service';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import { ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, TwilioDouble } from './support/twilio-double';
import { startWorkerProcess } from './support/worker-process';

const RECIPIENTS = 30;
/** How long each provider holds its answer: long enough for the kill to land mid-send. */
const PROVIDER_DELAY_MS = 150;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One provider as the crash test sees it: who it has heard from, in arrival order. */
interface Arrival {
  /** The delivery's address as the log records it (email, phone, endpoint url…). */
  address: string;
  /** The id a downstream system would deduplicate on (Message-ID, push Topic, webhook-id), if any. */
  dedupeId: string | null;
}

interface Family {
  name: string;
  channel: 'email' | 'sms' | 'push' | 'webhook';
  channelEnv: Record<string, string>;
  apiEnv?: Record<string, string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Creates the audience; returns the request's `to` and every address that must be reached. */
  audience(stack: Stack): Promise<{ to: Record<string, string[]>; addresses: string[] }>;
  arrivals(stack: Stack): Arrival[];
}

const secretKey = randomBytes(32).toString('base64');

function emailFamily(): Family {
  return {
    name: 'email (SMTP)',
    channel: 'email',
    channelEnv: {},
    start: async () => undefined,
    stop: async () => undefined,
    async audience() {
      const emails = Array.from({ length: RECIPIENTS }, (_, i) => `${uniq(`crash${i}`)}@example.com`);
      return { to: { emails }, addresses: emails };
    },
    // The sink stores a message before its delayed 250: arrival = the server has it.
    arrivals: (stack) =>
      stack.sink
        .messages()
        .flatMap((m) => m.envelopeTo.map((address) => ({ address, dedupeId: m.messageId }))),
  };
}

function smsFamily(): Family {
  const twilio = new TwilioDouble();
  return {
    name: 'SMS (Twilio)',
    channel: 'sms',
    get channelEnv() {
      return {
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_FROM: SMS_FROM,
        TWILIO_API_BASE_URL: twilio.url,
      };
    },
    start: async () => {
      twilio.delayMs = PROVIDER_DELAY_MS;
      await twilio.start();
    },
    stop: () => twilio.close(),
    async audience() {
      const phones = Array.from(
        { length: RECIPIENTS },
        () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
      );
      return { to: { phones: [...new Set(phones)] }, addresses: [...new Set(phones)] };
    },
    // Twilio has no idempotency key: a copy is only recognisable by its body.
    arrivals: () => twilio.requests.map((r) => ({ address: r.fields.To!, dedupeId: null })),
  };
}

function pushFamily(): Family {
  let service: PushService;
  return {
    name: 'web push',
    channel: 'push',
    channelEnv: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT,
      HERALD_ALLOW_LOOPBACK_URLS: 'true',
    },
    apiEnv: { VAPID_PUBLIC_KEY: vapid.publicKey, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    start: async () => {
      service = await startPushService({ delayMs: PROVIDER_DELAY_MS });
    },
    stop: () => service.close(),
    async audience(stack) {
      const ids: string[] = [];
      for (let i = 0; i < RECIPIENTS; i++) {
        const id = uniq(`pushcrash${i}`);
        await stack.api('PUT', `/v1/recipients/${id}`, { name: `P ${i}` });
        const subscribed = await stack.api(
          'POST',
          `/v1/recipients/${id}/push-subscriptions`,
          newDevice(`${service.origin}/push/${id}`).json,
        );
        expect(subscribed.status).toBe(201);
        ids.push(id);
      }
      // The log's address for push is a subscription count; the provider sees the endpoint path.
      return { to: { recipients: ids }, addresses: ids.map((id) => `/push/${id}`) };
    },
    arrivals: () => service.requests().map((r) => ({ address: r.path, dedupeId: String(r.headers.topic) })),
  };
}

function webhookFamily(): Family {
  const received: { path: string; id: string }[] = [];
  let server: http.Server;
  let base = '';
  return {
    name: 'webhook',
    channel: 'webhook',
    channelEnv: { HERALD_SECRET_KEY: secretKey, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    apiEnv: { HERALD_SECRET_KEY: secretKey, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    start: async () => {
      server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          received.push({ path: req.url ?? '', id: String(req.headers['webhook-id']) });
          setTimeout(() => res.writeHead(200).end('ok'), PROVIDER_DELAY_MS);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    async audience(stack) {
      const ids: string[] = [];
      for (let i = 0; i < RECIPIENTS; i++) {
        const id = uniq(`hookcrash${i}`);
        await stack.api('PUT', `/v1/recipients/${id}`, { name: `W ${i}` });
        const registered = await stack.api('POST', '/v1/webhook-endpoints', {
          url: `${base}/hook/${id}`,
          recipient: id,
        });
        expect(registered.status).toBe(201);
        ids.push(id);
      }
      return { to: { recipients: ids }, addresses: ids.map((id) => `/hook/${id}`) };
    },
    arrivals: () => received.map((r) => ({ address: r.path, dedupeId: r.id })),
  };
}

describe.each([emailFamily(), smsFamily(), pushFamily(), webhookFamily()])(
  'a worker killed with SIGKILL in the middle of a notification: $name',
  (family) => {
    let stack: Stack;
    const logKey = (address: string) => address.replace(/^https?:\/\/[^/]+/, '');
    beforeAll(async () => {
      await family.start();
      stack = await startStack({
        worker: false,
        // A slow SMTP server too, so the email family's kill lands while mails are going out.
        sink: { dataDelayMs: PROVIDER_DELAY_MS },
        apiEnv: {
          SEND_HEARTBEAT_TIMEOUT_MS: '2000',
          BATCH_SIZE: '10',
          MAX_CONCURRENT_BATCHES: '2',
          ...family.apiEnv,
        },
      });
    });
    afterAll(async () => {
      await stack?.close();
      await family.stop();
    });

    it(`reaches each of ${RECIPIENTS}; a second copy only where the send was in flight, recognisable by its id`, async () => {
      const { to, addresses } = await family.audience(stack);
      let worker = await startWorkerProcess(stack, family.channelEnv);
      const created = await stack.api('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to,
        data: { ticketId: '9', title: 'Crash test' },
        channels: [family.channel],
      });
      expect(created.status).toBe(202);

      const deadline = Date.now() + 30_000;
      while (family.arrivals(stack).length < 8) {
        if (Date.now() > deadline)
          throw new Error(`only ${family.arrivals(stack).length} sends reached the provider`);
        await new Promise((r) => setTimeout(r, 10));
      }
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      expect(isAlive(worker.pid!)).toBe(false);

      // A request the dead worker had already written may still sit unread in the provider's socket
      // (same process as this test, busy under CI load): let those land before taking the snapshot.
      // Nothing new can come: the only sender is dead.
      for (let seen = -1, stableSince = Date.now(); Date.now() - stableSince < 500;) {
        const now = family.arrivals(stack).length;
        if (now !== seen) [seen, stableSince] = [now, Date.now()];
        await new Promise((r) => setTimeout(r, 50));
      }
      // What was true at the kill: what the provider had heard of, what the log recorded as sent.
      const arrivedAtKill = new Set(family.arrivals(stack).map((a) => a.address));
      const sentRows = await stack.db.query<{ address: string; external_id: string | null }>(
        `SELECT address, external_id FROM deliveries WHERE notification_id = $1 AND status = 'sent'`,
        [created.body.id],
      );
      const providerKey = (row: { address: string; external_id: string | null }) =>
        family.channel === 'push'
          ? `/push/${row.external_id}`
          : // The log names a webhook endpoint by id (`webhook:<id>`), never by its URL.
            family.channel === 'webhook'
            ? `/hook/${row.external_id}`
            : logKey(row.address);
      const loggedAtKill = new Set(sentRows.rows.map(providerKey));
      expect(arrivedAtKill.size).toBeLessThan(addresses.length);
      // With no worker to answer the query, the state still comes, from the database.
      const whileDown = await stack.api('GET', `/v1/notifications/${created.body.id}`);
      expect(whileDown).toMatchObject({ status: 200, body: { status: 'running', source: 'database' } });

      worker = await startWorkerProcess(stack, family.channelEnv);
      try {
        const view = await waitForNotification(stack, created.body.id, 90_000);
        expect(view).toMatchObject({ status: 'completed', counts: { sent: addresses.length } });
      } finally {
        worker.kill('SIGTERM');
        await new Promise((r) => worker.once('exit', r));
      }

      const copies = new Map<string, (string | null)[]>();
      for (const { address, dedupeId } of family.arrivals(stack))
        copies.set(address, [...(copies.get(address) ?? []), dedupeId]);
      for (const address of addresses) expect(copies.get(address)?.length ?? 0).toBeGreaterThanOrEqual(1);

      // In flight at the kill: the provider had it, the log did not say sent.
      const inFlight = new Set([...arrivedAtKill].filter((a) => !loggedAtKill.has(a)));
      const duplicated = addresses.filter((a) => copies.get(a)!.length > 1);
      for (const address of duplicated) {
        expect(inFlight.has(address)).toBe(true);
        expect(new Set(copies.get(address)).size).toBe(1); // the same dedupe id on every copy
      }
      // Nothing the log had recorded as sent was ever sent again.
      for (const address of loggedAtKill) expect(copies.get(address)).toHaveLength(1);
      console.log(
        `${family.name}: ${arrivedAtKill.size} reached the provider and ${loggedAtKill.size} were logged at the kill; ` +
          `${inFlight.size} in flight; ${duplicated.length} got a second copy`,
      );
    });
  },
);

describe('a worker killed while its in-app sends wait on the database', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      apiEnv: { SEND_HEARTBEAT_TIMEOUT_MS: '2000', BATCH_SIZE: '10' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('leaves exactly one inbox message per recipient once another worker takes over', async () => {
    const ids: string[] = [];
    for (let i = 0; i < RECIPIENTS; i++) {
      const id = uniq(`inboxcrash${i}`);
      await stack.api('PUT', `/v1/recipients/${id}`, { name: `I ${i}` });
      ids.push(id);
    }
    // Hold the inbox table so the worker's inserts queue up mid-send, then kill the worker.
    const blocker = await stack.db.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE inbox_messages IN SHARE MODE');
    let worker = await startWorkerProcess(stack, {});
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: ids },
      data: { ticketId: '10', title: 'Inbox crash' },
      channels: ['inapp'],
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const waiting = await stack.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'inbox_messages'::regclass AND NOT granted`,
      );
      if (waiting.rows[0]!.n > 0) break;
      if (Date.now() > deadline) throw new Error('the worker never tried to write an inbox message');
      await new Promise((r) => setTimeout(r, 20));
    }
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    await blocker.query('COMMIT');
    blocker.release();

    worker = await startWorkerProcess(stack, {});
    try {
      const view = await waitForNotification(stack, created.body.id, 90_000);
      expect(view).toMatchObject({ status: 'completed', counts: { sent: RECIPIENTS } });
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    const messages = await stack.db.query<{ external_id: string; n: number }>(
      `SELECT external_id, count(*)::int AS n FROM inbox_messages WHERE notification_id = $1 GROUP BY external_id`,
      [created.body.id],
    );
    expect(messages.rows.map((r) => r.external_id).sort()).toEqual([...ids].sort());
    expect(messages.rows.every((r) => r.n === 1)).toBe(true);
  });
});
