import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { msToTs } from '@temporalio/common/lib/time';
import { Client } from '@temporalio/client';
import { ensureSearchAttributes } from '../worker/create-worker';
import { loadSchedulesFile, parseSchedulesFile, type DeclaredSchedule } from '../common/schedules';
import { getSchedule, listScheduleIds, syncSchedules } from '../common/temporal-schedules';
import { createKey } from './support/auth';
import { expectError } from './support/expect-error';
import { ROOT } from './support/env';
import { startStack, uniq, type Stack } from './support/stack';
import { startWorkerProcess, stopWorkerProcess } from './support/worker-process';

// Schedules live in the Temporal namespace every test file shares: this file only declares ids with its
// own prefix and syncs with that prefix as the owned one, so it never touches another file's schedules.

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

let stack: Stack;
let prefix: string;
beforeAll(async () => {
  stack = await startStack();
  prefix = `herald-test-${uniq('sch')}-`;
});
afterAll(async () => {
  if (stack) {
    for (const id of await listScheduleIds(stack.client, prefix))
      await stack.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    await stack.close();
  }
});

/** Harmless runs: the overdue workflow as a dry run over keys nobody uses. */
function declared(): DeclaredSchedule[] {
  const args = [{ dryRun: true, keyPrefix: `${prefix}none-` }];
  return [
    { id: `${prefix}every`, workflowType: 'overdueWorkflow', args, spec: { every: '15m' }, paused: false },
    {
      id: `${prefix}daily`,
      workflowType: 'overdueWorkflow',
      args,
      spec: { cron: '0 9 * * *', timezone: 'Africa/Harare' },
      paused: false,
    },
    {
      id: `${prefix}nightly`,
      workflowType: 'overdueWorkflow',
      args,
      spec: { cron: '30 2 * * *' },
      paused: true,
    },
  ];
}

/** The listing is eventually consistent: poll until it shows `expected`. */
async function expectIds(expected: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let ids: string[] = [];
  while (Date.now() < deadline) {
    ids = await listScheduleIds(stack.client, prefix);
    if (JSON.stringify(ids) === JSON.stringify([...expected].sort())) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  expect(ids).toEqual([...expected].sort());
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function herald(...args: string[]) {
  const result = spawnSync(TSX, ['scripts/herald.ts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: stack.env.temporalAddress,
      TEMPORAL_NAMESPACE: stack.env.namespace,
      HERALD_TASK_QUEUE: stack.taskQueue,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('config/schedules.yaml', () => {
  test('parses and declares the digest, overdue and retention schedules', () => {
    const schedules = loadSchedulesFile();
    expect(schedules.map((s) => s.workflowType).sort()).toEqual([
      'digestWorkflow',
      'overdueWorkflow',
      'retentionWorkflow',
    ]);
    for (const s of schedules) expect(s.id.startsWith('herald-')).toBe(true);
    expect(schedules.find((s) => s.workflowType === 'digestWorkflow')?.spec.every).toBe('15m');
    expect(schedules.find((s) => s.workflowType === 'overdueWorkflow')?.spec).toEqual({
      cron: '0 9 * * *',
      timezone: 'Africa/Harare',
    });
  });

  test('names every problem of a bad file', () => {
    expect(() =>
      parseSchedulesFile(
        'schedules:\n  - id: nope\n    workflowType: x\n    spec: { every: 15m, cron: "* * * * *" }\n' +
          '  - id: herald-x\n    workflowType: y\n    spec: { cron: "0 9 * * *", timezone: Mars/Base }\n',
      ),
    ).toThrow(/schedules\.0\.id: must start with herald-.*schedules\.0\.spec: give exactly one.*timezone/s);
  });
});

describe('sync', () => {
  test('is idempotent, leaves exactly the declared schedules, and deletes undeclared ones', async () => {
    const set = declared();
    const first = await syncSchedules(stack.client, stack.taskQueue, set, { ownedPrefix: prefix });
    expect(first.created.sort()).toEqual(set.map((s) => s.id).sort());
    expect(first.updated).toEqual([]);

    const second = await syncSchedules(stack.client, stack.taskQueue, set, { ownedPrefix: prefix });
    expect(second).toEqual({ created: [], updated: [], deleted: [], unchanged: set.map((s) => s.id) });
    await expectIds(set.map((s) => s.id));
    expect((await getSchedule(stack.client, `${prefix}nightly`))?.paused).toBe(true);
    expect((await getSchedule(stack.client, `${prefix}daily`))?.spec).toBe('cron 0 9 * * * (Africa/Harare)');

    // A changed spec is updated in place.
    const changed = set.map((s) => (s.id === `${prefix}every` ? { ...s, spec: { every: '30m' } } : s));
    const third = await syncSchedules(stack.client, stack.taskQueue, changed, { ownedPrefix: prefix });
    expect(third.updated).toEqual([`${prefix}every`]);
    expect(third.created).toEqual([]);
    expect((await getSchedule(stack.client, `${prefix}every`))?.spec).toBe('every 30m');

    // One removed from the declared set goes.
    const fewer = changed.filter((s) => s.id !== `${prefix}nightly`);
    await waitFor(
      async () => (await listScheduleIds(stack.client, prefix)).includes(`${prefix}nightly`),
      'the listing to show the new schedule',
    );
    const fourth = await syncSchedules(stack.client, stack.taskQueue, fewer, { ownedPrefix: prefix });
    expect(fourth.deleted).toEqual([`${prefix}nightly`]);
    expect(await getSchedule(stack.client, `${prefix}nightly`)).toBeNull();
    await expectIds(fewer.map((s) => s.id));
  });

  test('refuses an owned prefix that is not Herald-owned', async () => {
    await expect(syncSchedules(stack.client, stack.taskQueue, [], { ownedPrefix: 'other-' })).rejects.toThrow(
      /herald-/,
    );
  });
});

describe('through the API and the CLI', () => {
  let id: string;
  /** The schedule routes are the operator's: a key of no tenant with scope `operator`. */
  let operator: (method: string, path: string) => ReturnType<Stack['api']>;
  beforeAll(async () => {
    const { key } = await createKey(stack.db, null, ['operator']);
    operator = (method, path) => stack.api(method, path, undefined, { authorization: `Bearer ${key}` });
    id = `${prefix}control`;
    await syncSchedules(
      stack.client,
      stack.taskQueue,
      [
        {
          id,
          workflowType: 'overdueWorkflow',
          args: [{ dryRun: true, keyPrefix: `${prefix}none-` }],
          spec: { cron: '0 9 1 1 *' },
          paused: false,
        },
      ],
      { ownedPrefix: id },
    );
  });

  test('GET lists it; trigger starts a run; pause and unpause flip its state; unknown ids are 404', async () => {
    await waitFor(async () => {
      const { body } = await operator('GET', '/v1/schedules');
      return (body.items as { id: string }[]).some((s) => s.id === id);
    }, 'GET /v1/schedules to list the schedule');
    const { body: list } = await operator('GET', '/v1/schedules');
    const listed = list.items.find((s: { id: string }) => s.id === id);
    expect(listed).toMatchObject({ workflowType: 'overdueWorkflow', spec: 'cron 0 9 1 1 *', paused: false });
    expect(listed.nextActionTimes.length).toBeGreaterThan(0);

    const triggered = await operator('POST', `/v1/schedules/${id}/trigger`);
    expect(triggered.status).toBe(200);
    await waitFor(
      async () => ((await getSchedule(stack.client, id))?.recentActions.length ?? 0) > 0,
      'the triggered run',
    );
    const run = (await getSchedule(stack.client, id))!.recentActions[0]!;
    expect(run.workflowId.startsWith(id)).toBe(true);
    await stack.client.workflow.getHandle(run.workflowId).result();

    const paused = await operator('POST', `/v1/schedules/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toBe(true);
    expect((await stack.client.schedule.getHandle(id).describe()).state.paused).toBe(true);
    const unpaused = await operator('POST', `/v1/schedules/${id}/unpause`);
    expect(unpaused.body.paused).toBe(false);
    expect((await stack.client.schedule.getHandle(id).describe()).state.paused).toBe(false);

    for (const command of ['trigger', 'pause', 'unpause']) {
      const missing = await operator('POST', `/v1/schedules/${prefix}missing/${command}`);
      expect(missing.status).toBe(404);
    }
    expectError(await operator('POST', '/v1/schedules/other-schedule/pause'), 400, 'validation_failed');
  });

  test('a trigger while a run is still going starts no second run (overlap SKIP)', async () => {
    const busy = `${prefix}busy`;
    // A task queue no worker polls: the first run stays open for as long as the test needs.
    await syncSchedules(
      stack.client,
      `${stack.taskQueue}-idle`,
      [
        {
          id: busy,
          workflowType: 'overdueWorkflow',
          args: [{ dryRun: true, keyPrefix: `${prefix}none-` }],
          spec: { cron: '0 9 1 1 *' },
          paused: false,
        },
      ],
      { ownedPrefix: busy },
    );
    const handle = stack.client.schedule.getHandle(busy);
    try {
      expect((await operator('POST', `/v1/schedules/${busy}/trigger`)).status).toBe(200);
      await waitFor(async () => (await handle.describe()).info.runningActions.length === 1, 'the first run');
      expect((await operator('POST', `/v1/schedules/${busy}/trigger`)).status).toBe(200);
      await waitFor(
        async () => (await handle.describe()).info.numActionsSkippedOverlap >= 1,
        'the second trigger to be skipped',
      );
      const { info } = await handle.describe();
      expect(info.runningActions).toHaveLength(1);
      expect(info.recentActions).toHaveLength(1);
      expect(info.numActionsSkippedOverlap).toBe(1);
    } finally {
      for (const action of (await handle.describe()).info.runningActions) {
        await stack.client.workflow.getHandle(action.workflow.workflowId).terminate('test over');
      }
      await handle.delete();
    }
  });

  test("a tenant's key, even one with every tenant scope, may not see or control schedules", async () => {
    expectError(await stack.api('GET', '/v1/schedules'), 403, 'forbidden');
    expectError(await stack.api('POST', `/v1/schedules/${id}/pause`), 403, 'forbidden');
    expect((await stack.client.schedule.getHandle(id).describe()).state.paused).toBe(false);
  });

  test('the CLI lists, triggers, pauses and unpauses', async () => {
    const listed = herald('schedules', 'list', '--json');
    expect(listed.stderr).toBe('');
    expect(listed.status).toBe(0);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id)).toContain(id);

    const before = (await getSchedule(stack.client, id))!.recentActions.length;
    const triggered = herald('schedules', 'trigger', id);
    expect(triggered.status).toBe(0);
    await waitFor(
      async () => ((await getSchedule(stack.client, id))?.recentActions.length ?? 0) > before,
      'the run the CLI triggered',
    );

    expect(herald('schedules', 'pause', id).status).toBe(0);
    expect((await stack.client.schedule.getHandle(id).describe()).state.paused).toBe(true);
    expect(herald('schedules', 'unpause', id).status).toBe(0);
    expect((await stack.client.schedule.getHandle(id).describe()).state.paused).toBe(false);

    const missing = herald('schedules', 'pause', `${prefix}missing`);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no schedule/);
    expect(herald('schedules', 'frobnicate').status).toBe(2);
  });
});

describe('the worker with HERALD_SYNC_SCHEDULES=true', () => {
  // Its own namespace: the worker owns every herald- schedule there and deletes the undeclared ones.
  const namespace = `sync-${randomBytes(4).toString('hex')}`;
  let dir: string;
  let client: Client;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'herald-schedules-'));
    await stack.client.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    await ensureSearchAttributes(stack.env.temporalAddress, namespace);
    client = new Client({ connection: stack.client.connection, namespace });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const worker = (file: string) =>
    startWorkerProcess(stack, {
      TEMPORAL_NAMESPACE: namespace,
      HERALD_SYNC_SCHEDULES: 'true',
      HERALD_SCHEDULES_FILE: file,
    });

  test('syncs HERALD_SCHEDULES_FILE onto its task queue before it reports started', async () => {
    const file = path.join(dir, 'schedules.yaml');
    writeFileSync(
      file,
      'schedules:\n  - id: herald-sync-check\n    workflowType: overdueWorkflow\n' +
        `    args: [{ dryRun: true, keyPrefix: "${namespace}-none-" }]\n    spec: { every: 1h }\n    paused: true\n`,
    );
    const child = await worker(file);
    try {
      const synced = await getSchedule(client, 'herald-sync-check');
      expect(synced).toMatchObject({ workflowType: 'overdueWorkflow', paused: true, spec: 'every 1h' });
      const action = (await client.schedule.getHandle('herald-sync-check').describe()).action;
      expect(action).toMatchObject({ type: 'startWorkflow', taskQueue: stack.taskQueue });
    } finally {
      await stopWorkerProcess(child, 'SIGTERM');
    }
  });

  test('a bad schedules file stops it with the problem named, before it starts', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'schedules:\n  - id: not-herald\n    workflowType: y\n    spec: { every: 1h }\n');
    await expect(worker(file)).rejects.toThrow(
      /worker exited early with 1: .*schedules\.0\.id: must start with herald-/s,
    );
  });
});
