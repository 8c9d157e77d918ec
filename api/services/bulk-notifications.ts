import { randomUUID } from 'node:crypto';
import { notificationWorkflowId } from '../../common/temporal';
import { CHANNELS } from '../../common/types';
import type { EventRouting } from '../../common/event-routing';
import {
  insertNotificationOnce,
  insertNotificationsOnce,
  type NotificationRecord,
} from '../../db/queries/notifications';
import type { ApiDeps } from '../deps';
import { HttpError, type ErrorDetail } from '../errors';
import {
  directLookups,
  idempotencyKeyReused,
  prepareNotification,
  startRecorded,
  temporalUnavailable,
  type NotificationSubmission,
  type PreparedNotification,
  type ReferenceLookups,
} from './notifications';
import { dailyQuotas, insertWithinDailyQuotas } from './send-limits';

/**
 * The bulk trigger, `POST /v1/notifications/bulk`: many notifications in one call, each answered on
 * its own. Each item goes through what `createNotification` does for one (the same checks, caps,
 * quotas and idempotency), in three passes over all of them: check every item (the catalogue,
 * routings, groups and recipients read once for all), record the good ones (one insert where no
 * daily quota applies), start their workflows a bounded number at a time.
 */

/** Items checked at once: each check makes a query or two (the send estimate); the pool is shared. */
const CHECK_CONCURRENCY = 8;

/** One item as the route hands it over: schema-checked (with its key), or already refused. */
export type BulkEntry =
  { submission: NotificationSubmission; idempotencyKey: string } | { rejected: HttpError };

export interface BulkItemError {
  status: number;
  code: string;
  message: string;
  details: ErrorDetail[];
  retryAfter?: number;
}

export type BulkItemResult =
  | { index: number; status: 'created' | 'existing'; id: string }
  | { index: number; status: 'error'; error: BulkItemError };

type Outcome = { record: NotificationRecord; inserted: boolean } | HttpError;

/** A checked item, the first with its key: the one that is recorded. */
interface Pending {
  index: number;
  idempotencyKey: string;
  prepared: PreparedNotification;
}

export async function createNotifications(
  deps: ApiDeps,
  tenantId: string,
  entries: BulkEntry[],
): Promise<BulkItemResult[]> {
  const outcomes: Outcome[] = new Array(entries.length);

  // 1. Check every item before anything is written.
  const accepted = entries.flatMap((e) => ('submission' in e ? [e.submission] : []));
  const lookups = await bulkLookups(deps, tenantId, accepted);
  const checked = await mapBounded(entries, CHECK_CONCURRENCY, async (entry) =>
    'rejected' in entry
      ? entry.rejected
      : await refusal(prepareNotification(deps, tenantId, entry.submission, lookups)),
  );

  // 2. One owner per key: a later item with the same key and body is the same notification.
  const owners: Pending[] = [];
  const followers: { index: number; owner: number }[] = [];
  const ownerOf = new Map<string, Pending>();
  checked.forEach((result, index) => {
    if (result instanceof HttpError) {
      outcomes[index] = result;
      return;
    }
    const { idempotencyKey } = entries[index] as { idempotencyKey: string };
    const owner = ownerOf.get(idempotencyKey);
    if (!owner) {
      const pending = { index, idempotencyKey, prepared: result };
      ownerOf.set(idempotencyKey, pending);
      owners.push(pending);
    } else if (owner.prepared.requestHash === result.requestHash) {
      followers.push({ index, owner: owner.index });
    } else {
      outcomes[index] = new HttpError(
        422,
        'idempotency_key_reused',
        `this idempotencyKey is used by notifications[${owner.index}] with a different body`,
        [{ path: 'idempotencyKey', message: `same key as notifications[${owner.index}], another body` }],
      );
    }
  });

  // 3. Record them: in one statement where no daily quota applies, else one transaction each (in
  //    order, so earlier items get the quota first), as a single request would be.
  const ownQuotas = await lookups.dailyQuotas!();
  const quotas = dailyQuotas(deps.config, ownQuotas);
  const metered = (p: Pending) =>
    CHANNELS.some((c) => quotas[c] !== undefined && (p.prepared.sends.byChannel[c] ?? 0) > 0);
  const row = (p: Pending) => {
    const id = randomUUID();
    return {
      id,
      event: p.prepared.request.event,
      priority: p.prepared.request.priority,
      idempotencyKey: p.idempotencyKey,
      requestHash: p.prepared.requestHash,
      request: p.prepared.request,
      workflowId: notificationWorkflowId(id),
    };
  };
  const free = owners.filter((p) => !metered(p));
  const recorded = await insertNotificationsOnce(deps.db, tenantId, free.map(row));
  free.forEach((p, i) => (outcomes[p.index] = recorded[i]!));
  for (const p of owners.filter(metered)) {
    outcomes[p.index] = await refusal(
      insertWithinDailyQuotas(
        deps,
        tenantId,
        p.prepared.sends,
        (db) => insertNotificationOnce(db, { ...row(p), tenantId }),
        ownQuotas,
      ),
    );
  }
  for (const p of owners) {
    const outcome = outcomes[p.index]!;
    if (!(outcome instanceof HttpError) && outcome.record.requestHash !== p.prepared.requestHash)
      outcomes[p.index] = idempotencyKeyReused(outcome.record.id, 'idempotencyKey');
  }

  // 4. Start what is recorded and not started yet (new, or a replay whose first start failed). A
  //    failed start keeps the row, as for a single request with a key: the same call again starts it.
  const toStart = owners.flatMap((p) => {
    const outcome = outcomes[p.index]!;
    return outcome instanceof HttpError || outcome.record.status !== 'accepted' ? [] : [p.index];
  });
  // BULK_START_CONCURRENCY at a time: the Temporal frontend kept busy, without a burst of 1,000.
  await mapBounded(toStart, deps.config.BULK_START_CONCURRENCY, async (index) => {
    const { record } = outcomes[index] as { record: NotificationRecord };
    await startRecorded(deps, record).catch((error: unknown) => {
      outcomes[index] = temporalUnavailable(error);
    });
  });

  for (const f of followers) {
    const owner = outcomes[f.owner]!;
    outcomes[f.index] = owner instanceof HttpError ? owner : { record: owner.record, inserted: false };
  }
  return outcomes.map((outcome, index) => answer(index, outcome));
}

function answer(index: number, outcome: Outcome): BulkItemResult {
  if (!(outcome instanceof HttpError))
    return { index, status: outcome.inserted ? 'created' : 'existing', id: outcome.record.id };
  const retryAfter = Number(outcome.headers['Retry-After']);
  return {
    index,
    status: 'error',
    error: {
      status: outcome.status,
      code: outcome.code,
      message: outcome.message,
      // Item-relative paths, as the single route names them, under the item's place in the body.
      details: outcome.details.map((d) => ({
        ...d,
        path: d.path ? `notifications[${index}].${d.path}` : `notifications[${index}]`,
      })),
      ...(Number.isInteger(retryAfter) ? { retryAfter } : {}),
    },
  };
}

/** An item's refusal (any HttpError) as its outcome; anything else is the call's failure. */
async function refusal<T>(work: Promise<T>): Promise<T | HttpError> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
}

/**
 * The reads of the reference checks, once for all items: the catalogue, each event's routing, and
 * the groups and recipients the items name (a default audience's are read when first needed).
 */
async function bulkLookups(
  deps: ApiDeps,
  tenantId: string,
  submissions: NotificationSubmission[],
): Promise<ReferenceLookups> {
  const direct = directLookups(deps, tenantId);
  const audiences = submissions.flatMap((s) => [s.to, ...(s.escalation?.levels ?? [])]);
  const groupRefs = [...new Set(audiences.flatMap((a) => a?.groups ?? []))];
  const recipientIds = [...new Set(audiences.flatMap((a) => a?.recipients ?? []))];
  const [templates, knownGroups, knownRecipients] = await Promise.all([
    direct.templates(),
    direct.groups(groupRefs),
    direct.recipients(recipientIds),
  ]);
  const readGroups = new Set(groupRefs);
  const readRecipients = new Set(recipientIds);
  const routings = new Map<string, Promise<EventRouting | null>>();
  return {
    templates: async () => templates,
    routing: (event) => {
      if (!routings.has(event)) routings.set(event, direct.routing(event));
      return routings.get(event)!;
    },
    groups: async (refs) => {
      const more = await direct.groups(refs.filter((r) => !readGroups.has(r)));
      const key = (r: string) => knownGroups.get(r) ?? more.get(r);
      return new Map(refs.flatMap((r) => (key(r) ? [[r, key(r)!] as const] : [])));
    },
    recipients: async (ids) => {
      const more = await direct.recipients(ids.filter((id) => !readRecipients.has(id)));
      return new Set(ids.filter((id) => knownRecipients.has(id) || more.has(id)));
    },
    // Read with the first call's recipients (all items' ones) and the catalogue: no read per item.
    recipientReach: direct.recipientReach,
    tenantWebhooks: direct.tenantWebhooks,
    dailyQuotas: direct.dailyQuotas,
  };
}

/** `items.map(work)` with at most `limit` of them running at once; results in the items' order. */
async function mapBounded<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
