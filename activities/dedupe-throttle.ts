import type { Pool } from 'pg';
import { renderDedupeKey } from '../common/dedupe-key';
import { parseDuration } from '../common/duration';
import type { Logger } from '../common/logger';
import type { NotificationRequest } from '../common/types';
import {
  claimDedupeKeys,
  countThrottled,
  pendingRecipientKeysPage,
  suppressRecipients,
} from '../db/queries/dedupe-throttle';
import type { TemplateManifest } from '../templates/registry';
import { STANDBY } from './policies';

/** People per page: each page is one claim statement, one count statement and one update. */
const PAGE_SIZE = 500;

export interface DedupeThrottleInput {
  notificationId: string;
  tenantId: string;
  level: number;
  request: NotificationRequest;
  /** The event's manifest in the tenant's catalogue (its own events carry their own rules). */
  manifest: TemplateManifest | undefined;
}

export interface DedupeThrottleResult {
  /** People whose deliveries were suppressed as duplicates / over the throttle. */
  duplicates: number;
  throttled: number;
}

/**
 * The step of prepareDeliveries that applies the notification's dedupe and throttle rules (the
 * request's, else the event manifest's) to each person still to be reached, with all of their
 * channels: a duplicate of an earlier notification within the window, or one over the throttle, is
 * `suppressed` with the reason. Dedupe is decided first, so a duplicate does not use up the
 * throttle. Escalation levels belong to their notification and are neither deduped nor counted.
 */
export function createDedupeThrottleStep(deps: { db: Pool; log: Logger }) {
  const { db, log } = deps;

  return async function applyDedupeAndThrottle(input: DedupeThrottleInput): Promise<DedupeThrottleResult> {
    const result: DedupeThrottleResult = { duplicates: 0, throttled: 0 };
    const { request, notificationId } = input;
    if (input.level > 0) return result;
    const { manifest } = input;
    const dedupe = request.dedupe ?? manifest?.dedupe;
    const throttle = request.throttle ?? manifest?.throttle;
    if (!dedupe && !throttle) return result;

    let dedupeKey: string | null = null;
    if (dedupe) {
      try {
        dedupeKey = renderDedupeKey(dedupe, request.data);
      } catch (error) {
        // The API refuses such requests; a manifest changed since acceptance must not lose the message.
        const reason = error instanceof Error ? error.message : String(error);
        log.warn({ notificationId, event: request.event, reason }, 'dedupe key does not render; not deduped');
      }
    }
    const scope = { tenantId: input.tenantId, event: request.event, notificationId };
    let after = '';
    for (;;) {
      const people = await pendingRecipientKeysPage(db, notificationId, 0, after, PAGE_SIZE);
      if (people.length === 0) break;
      after = people[people.length - 1]!;
      const decisions: { recipientKey: string; reason: string }[] = [];
      let remaining = people;
      if (dedupe && dedupeKey !== null) {
        const holders = await claimDedupeKeys(db, scope, dedupeKey, parseDuration(dedupe.window)!, people);
        remaining = [];
        for (const person of people) {
          const holder = holders.get(person);
          // Our own claim (this attempt's or an earlier attempt's of this activity) means: deliver.
          if (holder && holder !== notificationId) {
            decisions.push({ recipientKey: person, reason: `duplicate of ${holder}` });
          } else remaining.push(person);
        }
        result.duplicates += people.length - remaining.length;
      }
      if (throttle) {
        const allowed = await countThrottled(
          db,
          scope,
          throttle.max,
          parseDuration(throttle.per)!,
          remaining,
        );
        const reason = `throttled: ${throttle.max} per ${throttle.per} for ${request.event}`;
        for (const person of remaining) {
          if (!allowed.has(person)) decisions.push({ recipientKey: person, reason });
        }
        result.throttled += remaining.filter((person) => !allowed.has(person)).length;
      }
      await suppressRecipients(db, notificationId, 0, decisions, STANDBY);
    }
    if (result.duplicates + result.throttled > 0) {
      log.info(
        { notificationId, event: request.event, ...result },
        'deliveries suppressed by dedupe/throttle',
      );
    }
    return result;
  };
}
