import type { Pool } from 'pg';
import { createWebhookAgents } from '../../activities/channels/webhook/post';
import type { Logger } from '../../common/logger';
import type { UrlPolicy } from '../../common/url-safety';
import {
  claimDueStatusEvents,
  pruneStatusEvents,
  recordStatusEventAttempt,
  type ClaimedStatusEvent,
} from '../../db/queries/status-events';
import { nextAttemptAt, type StatusEventRetry } from './backoff';
import { sendStatusEvent, type StatusEventSender } from './send';

export interface StatusEventDispatcherOptions {
  db: Pool;
  /** Opens the endpoints' sealed URLs and secrets (HERALD_SECRET_KEY). */
  secretKey: Buffer;
  urlPolicy: UrlPolicy;
  log: Pick<Logger, 'warn' | 'error'>;
  /** How often to look for due events when the last look found less than a full batch. */
  pollMs: number;
  /** Events claimed (and sent at once) per look. */
  batchSize: number;
  timeoutMs: number;
  retry: StatusEventRetry;
  /** Finished events (and their attempts) are deleted this many days after they were written. */
  retentionDays: number;
}

/** How often a dispatcher deletes expired events, and how many per statement. */
const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 1_000;

export interface StatusEventDispatcher {
  /** Stops looking; resolves once the attempts in flight are recorded. */
  stop(): Promise<void>;
}

/**
 * The outbox's sender, one per worker process: claims due events, POSTs each to its endpoint, logs
 * the attempt and schedules the next one. At least once: an event is marked delivered only after a
 * 2xx, and a claim whose worker died runs out and the event is claimed again. Several processes
 * share the work through SKIP LOCKED claims.
 */
export function startStatusEventDispatcher(options: StatusEventDispatcherOptions): StatusEventDispatcher {
  const { db, log, pollMs, batchSize, retry } = options;
  const agents = createWebhookAgents(batchSize);
  const sender: StatusEventSender = {
    secretKey: options.secretKey,
    urlPolicy: options.urlPolicy,
    agents,
    timeoutMs: options.timeoutMs,
  };
  // Long enough for the attempt's timeout and its bookkeeping; a dead worker's events wait this long.
  const leaseSeconds = Math.ceil(options.timeoutMs / 1000) + 30;
  let running = true;
  let wake: (() => void) | null = null;

  async function attempt(event: ClaimedStatusEvent): Promise<void> {
    const attemptedAt = new Date();
    const result = await sendStatusEvent(event, sender);
    const finishedAt = new Date();
    const failures = event.failures + (result.delivered ? 0 : 1);
    await recordStatusEventAttempt(db, event, {
      attemptedAt,
      durationMs: finishedAt.getTime() - attemptedAt.getTime(),
      httpStatus: result.httpStatus,
      error: result.error,
      delivered: result.delivered,
      nextAttemptAt:
        result.delivered || result.final
          ? null
          : nextAttemptAt(failures, retry, finishedAt, result.retryAfterMs),
    });
  }

  let prunedAt = 0;
  async function prune(): Promise<void> {
    if (Date.now() - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = Date.now();
    // Bounded, so one round stays short; the next round takes the rest.
    for (let round = 0; round < 20 && running; round++)
      if ((await pruneStatusEvents(db, options.retentionDays, PRUNE_BATCH)) < PRUNE_BATCH) break;
  }

  async function loop(): Promise<void> {
    while (running) {
      let claimed = 0;
      try {
        await prune();
        const events = await claimDueStatusEvents(db, batchSize, leaseSeconds);
        claimed = events.length;
        const outcomes = await Promise.allSettled(events.map(attempt));
        for (const outcome of outcomes)
          if (outcome.status === 'rejected')
            // The attempt could not be recorded: its claim runs out and it is sent again.
            log.warn({ err: outcome.reason as Error }, 'status event attempt not recorded');
      } catch (error) {
        log.error({ err: error as Error }, 'status event dispatch failed');
      }
      // A full batch: more may be due right now.
      if (running && claimed < batchSize)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      wake = null;
    }
  }

  const done = loop();
  return {
    async stop() {
      running = false;
      wake?.();
      await done;
      agents.destroy();
    },
  };
}
