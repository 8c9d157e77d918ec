import { channelSettings } from '../activities/channels/settings';
import { NativeConnection } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { deliveryTuning } from '../common/delivery-tuning';
import { notificationWorkflowId } from '../common/temporal';
import type { NotificationWorkflowInput } from '../common/types';
import { TemplateRegistry } from '../templates/registry';
import { loadWorkerConfig } from '../worker/config';
import { buildChannels, createHeraldWorker } from '../worker/create-worker';
import type { OverdueWorkflowInput, OverdueWorkflowResult } from '../workflows/overdue';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

const DAY_SECONDS = 86_400;

describe('deadlines and the overdue workflow', () => {
  let stack: Stack;
  let assignee: { id: string; email: string };
  let creator: { id: string; email: string };
  let prefix: string;
  let now0: Date;
  const key = (name: string) => `${prefix}-${name}`;

  beforeAll(async () => {
    stack = await startStack();
    const person = async (name: string) => {
      const id = uniq(name);
      const email = `${id}@example.com`;
      expect((await stack.api('PUT', `/v1/recipients/${id}`, { name, email })).status).toBe(201);
      return { id, email };
    };
    assignee = await person('assignee');
    creator = await person('creator');
    prefix = uniq('overdue');
    now0 = new Date();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const deadline = (name: string, overrides: Record<string, unknown> = {}) => ({
    dueAt: new Date(now0.getTime() - 2 * 3600_000).toISOString(),
    to: { recipients: [assignee.id, creator.id] },
    data: { ticketId: key(name), title: `Ticket ${name}` },
    ...overrides,
  });

  /** Runs the overdue workflow over this file's items only (every other file shares the database). */
  const runOverdue = (input: OverdueWorkflowInput): Promise<OverdueWorkflowResult> =>
    stack.client.workflow.execute('overdueWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: uniq('overdue-run'),
      args: [{ keyPrefix: prefix, tuning: deliveryTuning(stack.config), ...input }],
    });
  const at = (secondsAfterStart: number) => new Date(now0.getTime() + secondsAfterStart * 1000).toISOString();
  const overdueNotificationCount = async () =>
    Number(
      (
        await stack.db.query<{ n: string }>(
          `SELECT count(*) AS n FROM notifications WHERE idempotency_key LIKE $1`,
          [`overdue:${prefix}-%`],
        )
      ).rows[0]!.n,
    );
  const mailsOf = (notificationId: string) =>
    stack.sink.messages().filter((m) => m.messageId.startsWith(`<${notificationId}.`));

  it('registers, replaces, reads and closes items', async () => {
    for (const name of ['a', 'b', 'c']) {
      const created = await stack.api('PUT', `/v1/deadlines/${key(name)}`, deadline(name));
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ key: key(name), event: 'ticket.overdue', status: 'open' });
    }
    const replaced = await stack.api('PUT', `/v1/deadlines/${key('a')}`, deadline('a'));
    expect(replaced.status).toBe(200);

    const done = await stack.api('POST', `/v1/deadlines/${key('c')}/done`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'done', doneAt: expect.any(String) });
    expect((await stack.api('GET', `/v1/deadlines/${key('c')}`)).body.status).toBe('done');
    expect((await stack.api('POST', `/v1/deadlines/${key('missing')}/done`)).status).toBe(404);
    expect((await stack.api('GET', `/v1/deadlines/${key('missing')}`)).status).toBe(404);
  });

  it('refuses unknown events and recipients, missing variables and bad times', async () => {
    const bad = async (body: unknown) => stack.api('PUT', `/v1/deadlines/${key('bad')}`, body);
    const paths = (res: { body: { error: { details: { path: string }[] } } }) =>
      res.body.error.details.map((d) => d.path);

    const unknownEvent = await bad(deadline('bad', { event: 'no.such.event' }));
    expect(unknownEvent.status).toBe(422);
    expect(paths(unknownEvent)).toEqual(['event']);

    const missing = await bad(deadline('bad', { data: { ticketId: '1' }, to: { recipients: ['nobody-x'] } }));
    expect(missing.status).toBe(422);
    expect(paths(missing)).toEqual(expect.arrayContaining(['data.title', 'to.recipients[0]']));

    expect((await bad(deadline('bad', { dueAt: 'tomorrow' }))).status).toBe(400);
    expect((await stack.api('GET', `/v1/deadlines/${key('bad')}`)).status).toBe(404);
  });

  it('a dry run lists the open items past due and sends nothing', async () => {
    const result = await runOverdue({ now: now0.toISOString(), dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.items.map((i) => i.key)).toEqual([key('a'), key('b')]);
    expect(result.items.every((i) => i.notificationId === undefined)).toBe(true);
    expect(await overdueNotificationCount()).toBe(0);
    expect((await stack.api('GET', `/v1/deadlines/${key('a')}`)).body.lastNotifiedAt).toBeNull();
  });

  let firstIds: string[] = [];

  it('a run notifies the assignee and the creator of each open item once', async () => {
    const result = await runOverdue({ now: now0.toISOString() });
    expect(result.dryRun).toBe(false);
    expect(result.items.map((i) => i.key)).toEqual([key('a'), key('b')]);
    firstIds = result.items.map((i) => i.notificationId!);
    expect(firstIds.every(Boolean)).toBe(true);
    expect(await overdueNotificationCount()).toBe(2);

    for (const id of firstIds) {
      expect((await waitForNotification(stack, id)).status).toBe('completed');
      await stack.sink.waitFor(() => mailsOf(id).length === 2);
      expect(mailsOf(id).flatMap((m) => m.envelopeTo)).toEqual(
        expect.arrayContaining([assignee.email, creator.email]),
      );
    }
    const a = (await stack.api('GET', `/v1/deadlines/${key('a')}`)).body;
    expect(a.lastNotifiedAt).toBe(now0.toISOString());
  });

  it('a second run inside the repeat interval sends nothing', async () => {
    const result = await runOverdue({ now: at(60) });
    expect(result.items).toEqual([]);
    expect(await overdueNotificationCount()).toBe(2);
  });

  it('a repeated notification of the same interval reuses the notification (idempotency key)', async () => {
    await stack.db.query(`UPDATE deadlines SET last_notified_at = NULL WHERE key LIKE $1`, [`${prefix}-%`]);
    const result = await runOverdue({ now: now0.toISOString() });
    expect(result.items.map((i) => i.notificationId)).toEqual(firstIds);
    expect(await overdueNotificationCount()).toBe(2);
  });

  it('after the repeat interval, both items are notified again', async () => {
    const result = await runOverdue({ now: at(DAY_SECONDS + 1) });
    expect(result.items.map((i) => i.key)).toEqual([key('a'), key('b')]);
    const ids = result.items.map((i) => i.notificationId!);
    expect(ids.some((id) => firstIds.includes(id))).toBe(false);
    expect(await overdueNotificationCount()).toBe(4);
    for (const id of ids) expect((await waitForNotification(stack, id)).status).toBe('completed');
  });

  it('PUT re-opens a done item', async () => {
    const reopened = await stack.api('PUT', `/v1/deadlines/${key('c')}`, deadline('c'));
    expect(reopened.status).toBe(200);
    expect(reopened.body).toMatchObject({ status: 'open', doneAt: null });
    const dry = await runOverdue({ now: at(DAY_SECONDS + 2), dryRun: true });
    expect(dry.items.map((i) => i.key)).toEqual([key('c')]);
  });

  it("a run whose input gives no tuning starts notifications with the worker's settings", async () => {
    // A worker of its own, configured the way worker/main.ts configures one from its environment.
    const config = loadWorkerConfig({
      DATABASE_URL: stack.env.databaseUrl,
      BATCH_SIZE: '7',
      RETRY_MAX_ATTEMPTS: '3',
      SMS_RETRY_MAX_ATTEMPTS: '2',
      QUIET_HOURS_HIGH_BYPASS: 'true',
    });
    const taskQueue = uniq('overdue-tuned');
    const channels = buildChannels({
      settings: channelSettings({ SMTP_URL: `${stack.sink.url}?tls=off` }),
      db: stack.db,
    });
    const connection = await NativeConnection.connect({ address: stack.env.temporalAddress });
    const worker = await createHeraldWorker({
      connection,
      namespace: stack.env.namespace,
      taskQueue,
      db: stack.db,
      channels: channels.channels,
      templates: await TemplateRegistry.load(),
      brandName: 'Herald Test',
      tuning: deliveryTuning(config),
      workflowBundle: { codePath: stack.env.workflowBundlePath },
    });
    const running = worker.run();
    try {
      const tunedKey = uniq('overdue-tuned');
      expect((await stack.api('PUT', `/v1/deadlines/${tunedKey}`, deadline('tuned'))).status).toBe(201);
      const result: OverdueWorkflowResult = await stack.client.workflow.execute('overdueWorkflow', {
        taskQueue,
        workflowId: uniq('overdue-run'),
        args: [{ keyPrefix: tunedKey, now: now0.toISOString() }],
      });
      const id = result.items[0]?.notificationId;
      expect(id).toEqual(expect.any(String));
      expect((await waitForNotification(stack, id!)).status).toBe('completed');

      const history = await stack.client.workflow.getHandle(notificationWorkflowId(id!)).fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const input = defaultPayloadConverter.fromPayload<NotificationWorkflowInput>(payload!);
      expect(input.tuning).toMatchObject({ batchSize: 7, quietHoursBypassHigh: true });
      expect(input.tuning.retry.email.maximumAttempts).toBe(3);
      expect(input.tuning.retry.sms.maximumAttempts).toBe(2);
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
      await channels.close();
    }
  });
});
