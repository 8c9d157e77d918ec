import { ApplicationFailure, Context } from '@temporalio/activity';
import { ackLink } from '../../common/ack-link';
import { ERROR_TYPES } from '../../common/errors';
import type { IdRange, Priority } from '../../common/types';
import type { TemplateRegistry } from '../../templates/registry';
import { deliveryUnsubscribeUrl } from '../../common/unsubscribe-token';
import { resolveBrand, type Brand } from '../../common/settings/brand';
import { isDatabaseUnavailable } from '../../db/availability';
import {
  claimDeliveries,
  markDeliveriesSent,
  markDeliveryUnsent,
  openDeliveriesInRange,
  type OpenDelivery,
} from '../../db/queries/deliveries';
import { getTenantSetting } from '../../db/queries/tenant-settings';
import type { SendFailure } from '../channels/types';
import type { StepContext } from './deps';

export interface SendBatchInput {
  /** The notification can escalate: messages carry a signed acknowledgement link. */
  ackable?: boolean;
  notificationId: string;
  tenantId: string;
  event: string;
  priority: Priority;
  data: Record<string, unknown>;
  range: IdRange;
}

export interface SendBatchResult {
  sent: number;
  failed: number;
  skipped: number;
  retrying: number;
  /** Without `throwOnTransient`: the longest wait a provider asked for (Retry-After) before a retry. */
  retryAfterMs?: number;
}

/** What a send renders with: the tenant's catalogue and brand, read once per batch (or per activity). */
export interface SendLook {
  templates: TemplateRegistry;
  brand: Brand;
}

/** Rows claimed per statement: a cancel stops a running batch within one chunk. */
const CLAIM_CHUNK = 25;

/**
 * How long a success waits for the other lanes' before it is written. Without it, sends finished a
 * few milliseconds apart and most statements carried one row: a 10,000-recipient fan-out wrote about
 * 8,100 of them, with 3 ms about 3,900. In three alternating pairs it ran at 637–673 mails/s instead
 * of 472–602, at 1.40–1.48 ms of worker CPU per mail instead of 1.53–1.95. Not longer: the lane
 * itself waits that long before its next send (the duplicate bound is unchanged).
 */
const GATHER_MS = 3;

export function createSendBatch(step: StepContext) {
  const { deps, metrics, log } = step;
  const { db, channels } = deps;

  /**
   * Sends one batch of deliveries over the channel's pooled transport. Rows are claimed a chunk at a
   * time right before their sends, and only while still open: rows already `sent` (by an earlier
   * attempt, or before a worker crash) or ended by cancel are never sent again. Successes are
   * written by group commit as the provider accepts them (one statement for whatever completed
   * during the previous write), so the lanes never wait on the log and a crash can resend at most
   * the sends of one write's round trip.
   */
  async function sendBatch(input: SendBatchInput): Promise<SendBatchResult> {
    try {
      const rows = await openDeliveriesInRange(db, input.notificationId, input.range.channel, input.range);
      return await sendRows(input, rows, { throwOnTransient: true });
    } catch (error) {
      throw asOutage(error);
    }
  }

  /** The tenant's catalogue (`templates`: when the caller has just read it) and its brand. */
  async function loadLook(tenantId: string, templates?: TemplateRegistry): Promise<SendLook> {
    const [catalogue, brand] = await Promise.all([
      templates ?? deps.templates.forTenant(db, tenantId),
      getTenantSetting(db, tenantId, 'brand'),
    ]);
    return { templates: catalogue, brand: resolveBrand(brand?.config, deps.brandName) };
  }

  /**
   * The sends of `rows` (open deliveries of one channel). With `throwOnTransient`, temporary failures
   * end in a retryable failure (Temporal retries the batch with backoff, claiming only rows still
   * open); without, they are left `retrying` for the caller to schedule.
   */
  async function sendRows(
    input: SendBatchInput,
    rows: OpenDelivery[],
    options: { throwOnTransient: boolean; look?: SendLook },
  ): Promise<SendBatchResult> {
    const channel = channels[input.range.channel];
    if (!channel) {
      throw ApplicationFailure.create({
        type: ERROR_TYPES.unknownChannel,
        message: `unknown channel ${input.range.channel}`,
        nonRetryable: true,
      });
    }
    const ctx = Context.current();
    const workflowId = ctx.info.workflowExecution?.workflowId;
    const channelName = input.range.channel;
    // Per batch, not per row: the tenant's templates (compiled once per version) and its brand.
    const { templates, brand } = options.look ?? (await loadLook(input.tenantId));
    const manifest = templates.manifest(input.event);
    const result: SendBatchResult = { sent: 0, failed: 0, skipped: 0, retrying: 0 };
    let lastTransient: SendFailure | undefined;
    // Only Twilio calls back fast enough to overtake a send's answer.
    const callbacks = channelName === 'sms' || channelName === 'whatsapp';
    const sentLog = groupCommit(
      (sent: { id: string; providerMessageId: string }[]) =>
        markDeliveriesSent(db, sent, { earlyCallbacks: callbacks }),
      { lanes: Math.min(channel.concurrency, rows.length), gatherMs: GATHER_MS },
    );
    /** Counts and logs one delivery's outcome in this attempt: debug when sent, warn otherwise. */
    const outcome = (deliveryId: string, kind: keyof SendBatchResult, reason?: string): void => {
      result[kind]++;
      metrics.deliveries.inc({ channel: channelName, outcome: kind });
      const fields = { workflowId, notificationId: input.notificationId, channel: channelName, deliveryId };
      if (kind === 'sent') log.debug({ ...fields, outcome: kind }, 'delivery sent');
      else log.warn({ ...fields, outcome: kind, reason }, `delivery ${kind}`);
    };

    const sendOne = async (row: OpenDelivery): Promise<void> => {
      const unsubscribeUrl = deliveryUnsubscribeUrl(deps.unsubscribeLinks, {
        tenantId: input.tenantId,
        channel: channelName,
        priority: input.priority,
        category: manifest?.category ?? null,
        unsubscribable: manifest?.unsubscribe ?? true,
        externalId: row.externalId,
        address: row.address,
      });
      let content: unknown;
      try {
        content = channel.render(templates, input.event, {
          data: input.data,
          recipient: {
            name: row.recipientName,
            email: channelName === 'email' ? row.address : null,
            externalId: row.externalId,
            locale: row.locale ?? brand.defaultLocale,
            timezone: row.timezone,
          },
          brand,
          notification: { id: input.notificationId, event: input.event, priority: input.priority },
          ackUrl:
            input.ackable && deps.ackLinks && row.externalId
              ? ackLink(deps.ackLinks.baseUrl, deps.ackLinks.key, input.notificationId, row.externalId, {
                  ttlSeconds: deps.ackLinks.ttlSeconds,
                })
              : undefined,
          unsubscribeUrl,
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        await markDeliveryUnsent(db, row.id, 'failed', reason);
        outcome(row.id, 'failed', reason);
        return;
      }
      let sent: Awaited<ReturnType<typeof channel.send>>;
      try {
        sent = await channel.send(
          {
            deliveryId: row.id,
            notificationId: input.notificationId,
            tenantId: input.tenantId,
            event: input.event,
            priority: input.priority,
            channel: channelName,
            recipientKey: row.recipientKey,
            externalId: row.externalId,
            address: row.address,
            recipientName: row.recipientName,
            data: input.data,
            unsubscribeUrl,
          },
          content,
        );
      } catch (error) {
        const failure = channel.classify(error);
        const status =
          failure.kind === 'transient' ? 'retrying' : failure.kind === 'skipped' ? 'skipped' : 'failed';
        if (status === 'retrying') lastTransient = failure;
        await markDeliveryUnsent(db, row.id, status, failure.reason);
        outcome(row.id, status, failure.reason);
        return;
      }
      // Recorded before this lane's next send: a crash or outage can resend only the sends in flight.
      await sentLog.add({ id: row.id, providerMessageId: sent.providerMessageId });
      outcome(row.id, 'sent');
    };

    // Well inside the heartbeat timeout, so a slow send between two heartbeats cannot time it out.
    const heartbeatEveryMs = Math.min(1000, (ctx.info.heartbeatTimeoutMs ?? 10_000) / 10);
    let nextHeartbeat = 0;
    try {
      // Cancelled notification: send nothing more; the workflow marks what is left as skipped.
      const claims = chunkClaimer(
        rows,
        (ids) => claimDeliveries(db, ids),
        () => ctx.cancellationSignal.aborted,
      );
      await forEachConcurrently(
        Array.from({ length: channel.concurrency }, (_, lane) => lane),
        channel.concurrency,
        async () => {
          for (let row = await claims.next(); row; row = await claims.next()) {
            await sendOne(row);
            // Local activities (the small-audience path) have no heartbeat; their cancel is the abort signal.
            // Throttled here: a heartbeat per send was about 2 % of a fan-out's worker thread.
            if (!ctx.info.isLocal && performance.now() >= nextHeartbeat) {
              nextHeartbeat = performance.now() + heartbeatEveryMs;
              ctx.heartbeat({
                done: result.sent + result.failed + result.skipped + result.retrying,
                of: rows.length,
              });
            }
          }
        },
      );
    } finally {
      // What the provider accepted is logged even when the batch stops early.
      await sentLog.drain();
    }

    // Cancelled meanwhile: say so, so a workflow waiting for this batch to stop sees it stop.
    if (ctx.cancellationSignal.aborted) await ctx.cancelled;
    if (result.retrying > 0 && options.throwOnTransient) {
      // Temporal retries the whole activity with backoff; the retry claims only the rows still open.
      metrics.batchRetries.inc({ channel: channelName });
      log.warn(
        {
          workflowId,
          notificationId: input.notificationId,
          channel: channelName,
          attempt: ctx.info.attempt,
          ...result,
        },
        'send batch will be retried',
      );
      throw ApplicationFailure.create({
        type: ERROR_TYPES.transientSendFailures,
        message: `${result.retrying} of ${rows.length} ${channelName} deliveries failed temporarily: ${lastTransient?.reason}`,
        details: [result],
        nextRetryDelay: lastTransient?.retryAfterMs,
      });
    }
    if (result.retrying > 0 && lastTransient?.retryAfterMs) result.retryAfterMs = lastTransient.retryAfterMs;
    return result;
  }

  return { sendBatch, sendRows, loadLook };
}

/**
 * Not an attempt that failed: the log is unreachable. The workflow resumes the batch once the
 * database is back, however long that takes, so an outage never turns deliveries into failures.
 */
export function asOutage(error: unknown): unknown {
  if (!isDatabaseUnavailable(error)) return error;
  return ApplicationFailure.create({
    type: ERROR_TYPES.databaseUnavailable,
    message: `the delivery log is unreachable: ${error instanceof Error ? error.message : String(error)}`,
    nonRetryable: true,
  });
}

/**
 * Hands out rows to the send lanes as they are claimed, a chunk per statement, claiming the next
 * chunk while the lanes still have rows (no lane waits at a chunk's end). The heartbeat that brings a
 * cancel can be throttled for many seconds; the claims cannot: `stopped` ends the handing out, and a
 * row cancel has ended is never claimed.
 */
function chunkClaimer<T extends { id: string }>(
  rows: T[],
  claim: (ids: string[]) => Promise<Set<string>>,
  stopped: () => boolean,
) {
  const ready: T[] = [];
  let next = 0;
  let claiming: Promise<void> | null = null;
  /** A failed claim ends the batch (its rows stay open for the retry), whichever lane meets it. */
  let failure: { error: unknown } | null = null;
  const claimNext = (): Promise<void> => {
    claiming ??= (async () => {
      const chunk = rows.slice(next, next + CLAIM_CHUNK);
      next += chunk.length;
      const claimed = await claim(chunk.map((r) => r.id));
      ready.push(...chunk.filter((r) => claimed.has(r.id)));
    })()
      .catch((error: unknown) => {
        failure = { error };
      })
      .finally(() => {
        claiming = null;
      });
    return claiming;
  };
  return {
    async next(): Promise<T | undefined> {
      for (;;) {
        if (failure) throw failure.error;
        if (stopped()) return undefined;
        const row = ready.shift();
        if (row) {
          // Claim ahead while this chunk still has rows for the other lanes.
          if (ready.length < CLAIM_CHUNK / 2 && next < rows.length && !claiming) void claimNext();
          return row;
        }
        if (claiming) await claiming;
        else if (next < rows.length) await claimNext();
        else return undefined;
      }
    },
  };
}

/**
 * Writes items as they come, one statement at a time: whatever arrives while a write runs goes in the
 * next one, and a write waits up to `gatherMs` for more unless every lane's item is already in. `add`
 * resolves once its item is written (and rejects if that write fails): a lane that waits for it
 * before its next send keeps the sends the log has not recorded to the ones in flight, as a write
 * per send did, with fewer statements. `drain` waits for everything added so far.
 */
function groupCommit<T>(
  write: (items: T[]) => Promise<void>,
  { lanes, gatherMs }: { lanes: number; gatherMs: number },
) {
  let pending: { items: T[]; done: Promise<void>; settle: (error?: unknown) => void } | null = null;
  let running: Promise<void> | null = null;
  let gathering: NodeJS.Timeout | null = null;
  const next = () => {
    let settle!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error?: unknown) => (error === undefined ? resolve() : reject(error));
    });
    // Seen by whoever awaits it; a write nobody waits for must not be an unhandled rejection.
    done.catch(() => undefined);
    return { items: [] as T[], done, settle };
  };
  const pump = (): void => {
    if (gathering) clearTimeout(gathering);
    gathering = null;
    const batch = pending!;
    pending = null;
    running = write(batch.items).then(
      () => batch.settle(),
      (error: unknown) => batch.settle(error instanceof Error ? error : new Error(String(error))),
    );
    void running.then(() => {
      running = null;
      if (pending) pump();
    });
  };
  return {
    add(item: T): Promise<void> {
      pending ??= next();
      pending.items.push(item);
      const { done } = pending;
      if (running) return done;
      if (pending.items.length >= lanes || gatherMs <= 0) pump();
      else gathering ??= setTimeout(pump, gatherMs);
      return done;
    },
    async drain(): Promise<void> {
      while (running || pending) {
        if (pending && !running) pump();
        const waiting = pending?.done;
        await running;
        if (waiting) await waiting;
      }
    },
  };
}

/**
 * Runs `work` over `items` with at most `limit` in flight. After a failure no new item starts, and
 * the failure is rethrown once the items in flight have settled, so nothing runs on after the call.
 */
async function forEachConcurrently<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
}
