import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type {
  RangesPageInput,
  ResolveAudienceInput,
  ResolvedAudience,
  SendBatchInput,
} from '../../activities/notifications';
import { ackUpdate, cancelUpdate } from '../../common/temporal';
import type { IdRange, NotificationOutcome, NotificationWorkflowInput } from '../../common/types';
import { z } from 'zod';
import { deliveryTuning, deliveryTuningSettings } from '../../common/delivery-tuning';
import { fakeActivityWorker, startTimeSkipping } from './time-skipping';

const DAY_S = 86_400;

/**
 * The notification workflow over fake activities on a time-skipping server: what it asks the
 * activities to do, and when (each call's scheduled time on the server's clock).
 */
function fakeActivities() {
  const calls: { name: string; at: number; level?: number; range?: IdRange }[] = [];
  const at = () => Context.current().info.currentAttemptScheduledTimestampMs;
  const range = (level: number, notBefore: string | null = null): IdRange => ({
    channel: 'email',
    level,
    fromId: String(level * 10 + 1),
    toId: String(level * 10 + 1),
    size: 1,
    label: `level ${level}`,
    notBefore,
  });
  let quietUntil: ((level: number) => string | null) | null = null;
  const activities = {
    // A local activity: its info carries the worker's clock, not the server's skipped one, so the
    // tests time each level by its send batch (a regular activity, scheduled on the server).
    async resolveAudience(input: ResolveAudienceInput): Promise<ResolvedAudience> {
      const level = input.level ?? 0;
      calls.push({ name: 'resolveAudience', at: 0, level });
      return {
        recipients: 1,
        deliveries: 1,
        open: 1,
        batches: 1,
        held: 0,
        heldUntil: null,
        counts: { pending: 1 },
        sentNow: false,
        retryAfterMs: null,
        finished: null,
      };
    },
    async openRangesPage(input: RangesPageInput) {
      if (input.after) return { ranges: [], cursor: null };
      return { ranges: [range(input.level, quietUntil?.(input.level) ?? null)], cursor: null };
    },
    async sendBatch(input: SendBatchInput) {
      calls.push({ name: 'sendBatch', at: at(), level: input.range.level, range: input.range });
      return { sent: 1, failed: 0, skipped: 0, retrying: 0 };
    },
    async wakeFailoverStandbys() {
      return { woken: 0 };
    },
    async failUnsentDeliveries() {
      return 0;
    },
    async skipUnclaimedDeliveries() {
      calls.push({ name: 'skipUnclaimedDeliveries', at: at() });
      return 0;
    },
    async finishCancelled() {
      calls.push({ name: 'finishCancelled', at: at() });
      return { skipped: 0, counts: { sent: 1 } };
    },
    async finishNotification() {
      calls.push({ name: 'finishNotification', at: at() });
      return { status: 'completed' as const, counts: { sent: 1 } };
    },
  };
  return { calls, activities, holdForQuietHours: (fn: typeof quietUntil) => (quietUntil = fn) };
}

const input = (
  escalation: NotificationWorkflowInput['request']['escalation'],
): NotificationWorkflowInput => ({
  notificationId: '00000000-0000-4000-8000-000000000001',
  tenantId: 'tenant-wf',
  request: {
    event: 'ticket.assigned',
    to: { recipients: ['tech-1'] },
    data: { ticketId: '1', title: 'Printer' },
    priority: 'normal',
    escalation,
  },
  tuning: deliveryTuning(z.object(deliveryTuningSettings).parse({})),
});

describe('the notification workflow with skipped time', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTimeSkipping();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  let n = 0;
  async function run<T>(
    fake: ReturnType<typeof fakeActivities>,
    body: (taskQueue: string, worker: Worker) => Promise<T>,
  ): Promise<T> {
    const taskQueue = `wf-${++n}`;
    const worker = await fakeActivityWorker(env, taskQueue, fake.activities);
    return worker.runUntil(body(taskQueue, worker));
  }

  it('escalates over 30 days, level by level, at the times the policy gives', async () => {
    const fake = fakeActivities();
    const levels = [{ afterSeconds: 10 * DAY_S }, { afterSeconds: 20 * DAY_S }, { afterSeconds: 30 * DAY_S }];
    const result = await run(fake, async (taskQueue) => {
      const handle = await env.client.workflow.start('notificationWorkflow', {
        taskQueue,
        workflowId: `escalate-30d-${n}`,
        args: [input({ levels })],
      });
      const started = (await handle.describe()).startTime.getTime();
      const outcome = (await handle.result()) as NotificationOutcome;
      return { outcome, started };
    });
    expect(result.outcome.status).toBe('completed');
    const prepares = fake.calls.filter((c) => c.name === 'resolveAudience');
    expect(prepares.map((c) => c.level)).toEqual([0, 1, 2, 3]);
    // Each level is sent at its own offset from the start (the server's clock, skipped ahead).
    const sends = fake.calls.filter((c) => c.name === 'sendBatch');
    const offsetsDays = sends.map((c) => (c.at - result.started) / 1000 / DAY_S);
    expect(offsetsDays[0]).toBeLessThan(0.01);
    for (const [i, days] of [10, 20, 30].entries()) {
      expect(offsetsDays[i + 1]).toBeGreaterThanOrEqual(days);
      expect(offsetsDays[i + 1]).toBeLessThan(days + 0.01);
    }
    expect(fake.calls.filter((c) => c.name === 'sendBatch').map((c) => c.level)).toEqual([0, 1, 2, 3]);
  });

  it('an acknowledgement on day 12 stops the levels still to come', async () => {
    const fake = fakeActivities();
    const levels = [{ afterSeconds: 10 * DAY_S }, { afterSeconds: 20 * DAY_S }, { afterSeconds: 30 * DAY_S }];
    const ack = await run(fake, async (taskQueue) => {
      const handle = await env.client.workflow.start('notificationWorkflow', {
        taskQueue,
        workflowId: `escalate-ack-${n}`,
        args: [input({ levels })],
      });
      await env.sleep(12 * DAY_S * 1000);
      const answer = await handle.executeUpdate(ackUpdate, { args: [{ by: 'tech-1' }] });
      const outcome = (await handle.result()) as NotificationOutcome;
      return { answer, outcome };
    });
    expect(ack.answer).toMatchObject({ accepted: true, stoppedLevels: 2 });
    expect(ack.outcome.acknowledged?.by).toBe('tech-1');
    expect(fake.calls.filter((c) => c.name === 'resolveAudience').map((c) => c.level)).toEqual([0, 1]);
  });

  it('a cancel during a 30-day wait ends the run without escalating', async () => {
    const fake = fakeActivities();
    const result = await run(fake, async (taskQueue) => {
      const handle = await env.client.workflow.start('notificationWorkflow', {
        taskQueue,
        workflowId: `escalate-cancel-${n}`,
        args: [input({ levels: [{ afterSeconds: 30 * DAY_S }] })],
      });
      await env.sleep(3 * DAY_S * 1000);
      const answer = await handle.executeUpdate(cancelUpdate);
      return { answer, outcome: (await handle.result()) as NotificationOutcome };
    });
    expect(result.answer).toMatchObject({ cancelled: true, sentBeforeCancel: 1 });
    expect(result.outcome.status).toBe('cancelled');
    expect(fake.calls.filter((c) => c.name === 'resolveAudience')).toHaveLength(1);
    expect(fake.calls.map((c) => c.name)).toContain('finishCancelled');
  });

  it('holds a delivery in quiet hours until the window ends, then sends it', async () => {
    const fake = fakeActivities();
    const eightHours = 8 * 3_600_000;
    // The server's clock (skipped ahead by the tests before), not the worker's.
    const releaseAt = (await env.currentTimeMs()) + eightHours;
    fake.holdForQuietHours(() => new Date(releaseAt).toISOString());
    const outcome = await run(fake, async (taskQueue) =>
      env.client.workflow.execute('notificationWorkflow', {
        taskQueue,
        workflowId: `quiet-${n}`,
        args: [input(undefined)],
      }),
    );
    expect((outcome as NotificationOutcome).status).toBe('completed');
    const [send] = fake.calls.filter((c) => c.name === 'sendBatch');
    expect(send!.at).toBeGreaterThanOrEqual(releaseAt);
    expect(send!.at - releaseAt).toBeLessThan(60_000);
  });
});
