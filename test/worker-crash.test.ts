import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './support/env';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * A real worker process, as deployed, resolved once it has started polling. `node --import tsx`
 * rather than the tsx binary: that one runs node as a child, which a SIGKILL to tsx would orphan.
 */
function startWorkerProcess(stack: Stack): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.env.databaseUrl,
      TEMPORAL_ADDRESS: stack.env.temporalAddress,
      HERALD_TASK_QUEUE: stack.taskQueue,
      SMTP_URL: stack.sink.url,
      WORKFLOW_BUNDLE_PATH: stack.env.workflowBundlePath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker started')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}: ${stderr}`)));
  });
}

describe('a worker killed with SIGKILL in the middle of a notification', () => {
  let stack: Stack;
  const dataStarted = new Map<string, number>();
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      // A slow SMTP server, so the kill lands while mails are going out.
      sink: {
        dataDelayMs: 60,
        onDataStart: (to) => to.forEach((a) => dataStarted.set(a, (dataStarted.get(a) ?? 0) + 1)),
      },
      apiEnv: { SEND_HEARTBEAT_TIMEOUT_MS: '2000', BATCH_SIZE: '25', MAX_CONCURRENT_BATCHES: '2' },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('delivers to each of 50 recipients; a second copy only where the send was in flight, with the same Message-ID', async () => {
    const emails = Array.from({ length: 50 }, (_, i) => `${uniq(`crash${i}`)}@example.com`);
    let worker = await startWorkerProcess(stack);
    const created = await stack.api('POST', '/v1/notifications', { event: 'test_email', to: { emails } });
    expect(created.status).toBe(202);

    await stack.sink.waitFor((mails) => mails.length >= 12, 30_000);
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    expect(isAlive(worker.pid!)).toBe(false);

    // What was true at the kill: accepted by the SMTP server, recorded as sent in the log.
    const acceptedAtKill = new Set(stack.sink.messages().flatMap((m) => m.envelopeTo));
    const startedAtKill = new Set(dataStarted.keys());
    const loggedAtKill = new Set(
      (
        await stack.db.query<{ address: string }>(
          `SELECT address FROM deliveries WHERE notification_id = $1 AND status = 'sent'`,
          [created.body.id],
        )
      ).rows.map((r) => r.address),
    );
    expect(acceptedAtKill.size).toBeLessThan(50);
    // With no worker to answer the query, the state still comes, from the database.
    const whileDown = await stack.api('GET', `/v1/notifications/${created.body.id}`);
    expect(whileDown).toMatchObject({ status: 200, body: { status: 'running', source: 'database' } });

    worker = await startWorkerProcess(stack);
    try {
      const view = await waitForNotification(stack, created.body.id, 90_000);
      expect(view.status).toBe('completed');
      expect(view.counts).toEqual({ sent: 50 });
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }

    const copies = new Map<string, string[]>();
    for (const mail of stack.sink.messages()) {
      for (const to of mail.envelopeTo) copies.set(to, [...(copies.get(to) ?? []), mail.messageId]);
    }
    for (const email of emails) expect(copies.get(email)?.length ?? 0).toBeGreaterThanOrEqual(1);

    // In flight at the kill: the server had the message (or was receiving it) but the log did not say sent.
    const inFlight = new Set([...startedAtKill].filter((a) => !loggedAtKill.has(a)));
    const duplicated = emails.filter((e) => copies.get(e)!.length > 1);
    for (const email of duplicated) {
      expect(inFlight.has(email)).toBe(true);
      // A copy is recognisable downstream: both carry the same deterministic Message-ID.
      expect(new Set(copies.get(email)).size).toBe(1);
    }
    // Nothing that the log had recorded as sent was ever sent again.
    for (const email of loggedAtKill) expect(copies.get(email)).toHaveLength(1);
    console.log(
      `worker crash: ${acceptedAtKill.size} accepted and ${loggedAtKill.size} logged at the kill; ` +
        `${inFlight.size} in flight; ${duplicated.length} recipients got a second copy`,
    );
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
