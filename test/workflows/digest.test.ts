import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { digestPeriodStart, isDigestDue, type SendDueDigestsInput } from '../../activities/digest';
import { localParts } from '../../common/quiet-hours';
import { fakeActivityWorker, startTimeSkipping } from './time-skipping';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Fifteen days of a digest schedule (every 3 hours, every 15 minutes around the due hour), on a time-skipping server: the real
 * digest workflow over a fake activity that applies the real due rule to one weekly reader
 * (Mondays 08:00 in Harare) who gets an item every 10 minutes. Exactly two digests, each on a Monday
 * between 08:00 and 09:00 Harare time, each with every item since the last.
 */
describe('a weekly digest over two weeks of skipped time', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTimeSkipping();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('goes out once a week, at the reader’s local hour, with every item since the last', async () => {
    const reader = { timezone: 'Africa/Harare', digest: { frequency: 'weekly', weekday: 1, hour: 8 } };
    const items: number[] = []; // creation times of unsent items
    const sent: { at: number; items: number }[] = [];
    let lastSentAt: number | null = null;
    let arrive: (until: number) => void = () => undefined;
    const activities = {
      async sendDueDigests(input: SendDueDigestsInput) {
        const now = Date.parse(input.now);
        arrive(now);
        const pending = items.filter((t) => t <= Date.parse(input.cutoff));
        if (pending.length === 0 || !isDigestDue(reader.digest, reader.timezone, now, lastSentAt))
          return { next: null, sent: [], failed: [] };
        lastSentAt = now;
        sent.push({ at: now, items: pending.length });
        items.splice(0, items.length, ...items.filter((t) => !pending.includes(t)));
        return {
          next: null,
          sent: [{ tenantId: 't', externalId: 'reader', items: pending.length, channel: 'email' }],
          failed: [],
        };
      },
    };
    const worker = await fakeActivityWorker(env, 'digest-weekly', activities);
    const start = await env.currentTimeMs();
    // A Schedule every 3 hours, and every 15 minutes around Harare's 08:00 (06:00 UTC), for 15 days.
    const ticks: number[] = [];
    for (let t = Math.ceil(start / HOUR) * HOUR; t < start + 15 * DAY; t += HOUR) {
      const hour = new Date(t).getUTCHours();
      if (hour === 6) ticks.push(t, t + 15 * 60_000, t + 30 * 60_000, t + 45 * 60_000);
      else if (hour % 3 === 0 || hour === 5 || hour === 7) ticks.push(t);
    }
    // Items keep arriving, one every 10 minutes, so every run has new ones (created as the activity runs, before its cutoff).
    const created = (until: number) => {
      while (itemTimes.length * 10 * 60_000 <= until - start) {
        itemTimes.push(start + itemTimes.length * 10 * 60_000);
        items.push(itemTimes.at(-1)!);
      }
    };
    const itemTimes: number[] = [];
    arrive = created;
    const runs = await worker.runUntil(
      env.client.workflow.execute('scheduleDriverWorkflow', {
        taskQueue: 'digest-weekly',
        workflowId: 'digest-schedule',
        args: [{ workflowType: 'digestWorkflow', ticks }],
      }),
    );
    expect(runs).toBe(ticks.length);
    expect(sent).toHaveLength(2);
    for (const digest of sent) {
      const local = localParts(digest.at, 'Africa/Harare');
      expect(local.hour).toBe(8);
      expect(new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay()).toBe(1);
      expect(digestPeriodStart('Africa/Harare', digest.at)).toBeLessThanOrEqual(digest.at);
    }
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(7 * DAY - HOUR);
    expect(sent[1]!.at - sent[0]!.at).toBeLessThanOrEqual(7 * DAY + HOUR);
    // Every item created before the second digest went into exactly one of the two.
    expect(sent[0]!.items + sent[1]!.items).toBe(itemTimes.filter((c) => c <= sent[1]!.at).length);
  });
});
