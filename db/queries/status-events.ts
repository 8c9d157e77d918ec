import type { Queryable } from './recipients';

/**
 * Status events: what a tenant's backend hears about its notifications. The triggers of migration
 * 0023 write them (their type names must match this list); the acknowledgement, which lives in the
 * workflow, is written by `recordAcknowledgedEvent`.
 */
export const STATUS_EVENT_TYPES = [
  'notification.completed',
  'notification.failed',
  'notification.cancelled',
  'notification.acknowledged',
  'delivery.sent',
  'delivery.failed',
  'delivery.suppressed',
  'delivery.delivered',
  'delivery.read',
] as const;
export type StatusEventType = (typeof STATUS_EVENT_TYPES)[number];

/** pending: to be tried (again); delivered: a 2xx came back; failed: every attempt failed. */
export const STATUS_EVENT_STATES = ['pending', 'delivered', 'failed'] as const;
export type StatusEventState = (typeof STATUS_EVENT_STATES)[number];

/** The JSON POSTed, the same on every attempt and replay. */
export interface StatusEventBody {
  type: StatusEventType;
  timestamp: string;
  data: {
    notificationId: string;
    idempotencyKey?: string;
    event: string;
    deliveryId?: string;
    channel?: string;
    recipient?: string;
    status: string;
    reason?: string;
    acknowledgedBy?: string;
  };
}

/** The `webhook-id` of an event: one per event, whichever attempt or replay carries it. */
export const webhookIdOf = (eventId: string): string => `msg_${eventId.replace(/-/g, '')}`;

/**
 * The acknowledgement's event (the ack is recorded by the workflow, not in a table a trigger sees).
 * Written after the workflow accepted it, so a crash between the two loses this one event.
 */
export async function recordAcknowledgedEvent(
  db: Queryable,
  ack: { tenantId: string; notificationId: string; by: string },
): Promise<number> {
  const result = await db.query<{ n: number }>(
    `SELECT enqueue_status_events(ARRAY(
       SELECT ROW(n.tenant_id, 'notification.acknowledged', n.id,
                  jsonb_build_object('notificationId', n.id, 'idempotencyKey', n.idempotency_key,
                    'event', n.event, 'status', 'acknowledged', 'acknowledgedBy', $3::text))::status_event_change
         FROM notifications n WHERE n.tenant_id = $1 AND n.id = $2)) AS n`,
    [ack.tenantId, ack.notificationId, ack.by],
  );
  return result.rows[0]?.n ?? 0;
}

/** An event claimed for one attempt, with what its endpoint needs to send it. */
export interface ClaimedStatusEvent {
  endpointId: string;
  eventId: string;
  tenantId: string;
  body: StatusEventBody;
  /** Failed attempts before this one (since the last replay). */
  failures: number;
  claim: string;
  storedUrl: string;
  sealedSecrets: string[];
}

/**
 * Claims up to `limit` due events for one attempt each. A claim pushes the event's next attempt out
 * by `leaseSeconds`, so a worker that dies mid-attempt leaves it due again later (at least once),
 * and SKIP LOCKED keeps several workers from claiming the same event.
 */
export async function claimDueStatusEvents(
  db: Queryable,
  limit: number,
  leaseSeconds: number,
): Promise<ClaimedStatusEvent[]> {
  const result = await db.query<{
    endpoint_id: string;
    event_id: string;
    tenant_id: string;
    body: StatusEventBody;
    failures: number;
    claim: string;
    url: string;
    secrets: string[];
  }>(
    `WITH due AS (
       SELECT endpoint_id, event_id FROM status_events
        WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at, seq
        LIMIT $1
        FOR UPDATE SKIP LOCKED
     )
     UPDATE status_events e
        SET next_attempt_at = now() + make_interval(secs => $2), claim = gen_random_uuid(), updated_at = now()
       FROM due, event_endpoints ep
      WHERE e.endpoint_id = due.endpoint_id AND e.event_id = due.event_id AND ep.id = e.endpoint_id
     RETURNING e.endpoint_id, e.event_id, e.tenant_id, e.body, e.failures, e.claim, ep.url, ep.secrets`,
    [limit, leaseSeconds],
  );
  return result.rows.map((r) => ({
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    tenantId: r.tenant_id,
    body: r.body,
    failures: r.failures,
    claim: r.claim,
    storedUrl: r.url,
    sealedSecrets: r.secrets,
  }));
}

export interface AttemptOutcome {
  attemptedAt: Date;
  durationMs: number;
  httpStatus: number | null;
  error: string | null;
  /** A 2xx came back. */
  delivered: boolean;
  /** When to try again; null: give up (or delivered). */
  nextAttemptAt: Date | null;
}

/**
 * Logs an attempt and moves its event on (delivered, due again, or failed), in one statement. The
 * event moves only while the claim is still its own: a replay meanwhile has started a fresh round.
 */
export async function recordStatusEventAttempt(
  db: Queryable,
  event: Pick<ClaimedStatusEvent, 'endpointId' | 'eventId' | 'claim'>,
  outcome: AttemptOutcome,
): Promise<void> {
  const state: StatusEventState = outcome.delivered
    ? 'delivered'
    : outcome.nextAttemptAt
      ? 'pending'
      : 'failed';
  await db.query(
    `WITH logged AS (
       INSERT INTO status_event_attempts
              (endpoint_id, event_id, attempted_at, duration_ms, http_status, error, next_attempt_at)
       VALUES ($1, $2, $4, $5, $6, $7, $8)
     )
     UPDATE status_events
        SET state = $9, claim = NULL, updated_at = now(),
            failures = failures + CASE WHEN $9 = 'delivered' THEN 0 ELSE 1 END,
            next_attempt_at = COALESCE($8, next_attempt_at),
            delivered_at = CASE WHEN $9 = 'delivered' THEN now() ELSE delivered_at END
      WHERE endpoint_id = $1 AND event_id = $2 AND claim = $3`,
    [
      event.endpointId,
      event.eventId,
      event.claim,
      outcome.attemptedAt,
      outcome.durationMs,
      outcome.httpStatus,
      outcome.error,
      outcome.nextAttemptAt,
      state,
    ],
  );
}

export interface StatusEventAttempt {
  at: string;
  durationMs: number;
  httpStatus: number | null;
  error: string | null;
  nextAttemptAt: string | null;
}

/** One event as an endpoint's history shows it. */
export interface StatusEventDelivery {
  eventId: string;
  webhookId: string;
  type: StatusEventType;
  notificationId: string;
  state: StatusEventState;
  createdAt: string;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
  payload: StatusEventBody;
  attempts: StatusEventAttempt[];
}

interface DeliveryRow {
  event_id: string;
  seq: string;
  type: StatusEventType;
  notification_id: string;
  state: StatusEventState;
  created_at: Date;
  delivered_at: Date | null;
  next_attempt_at: Date;
  body: StatusEventBody;
  attempts: {
    at: string;
    durationMs: number;
    httpStatus: number | null;
    error: string | null;
    nextAttemptAt: string | null;
  }[];
}

const SELECT_DELIVERIES = `
  SELECT e.event_id, e.seq::text, e.type, e.notification_id, e.state, e.created_at, e.delivered_at,
         e.next_attempt_at, e.body,
         COALESCE((SELECT json_agg(json_build_object(
                    'at', a.attempted_at, 'durationMs', a.duration_ms, 'httpStatus', a.http_status,
                    'error', a.error, 'nextAttemptAt', a.next_attempt_at) ORDER BY a.id)
                     FROM status_event_attempts a
                    WHERE a.endpoint_id = e.endpoint_id AND a.event_id = e.event_id), '[]') AS attempts
    FROM status_events e`;

/** ISO text as JSON gives it from PostgreSQL (`2026-01-02T03:04:05.678+00:00`), made `…Z`. */
const iso = (text: string | null): string | null => (text === null ? null : new Date(text).toISOString());

const toDelivery = (r: DeliveryRow): StatusEventDelivery => ({
  eventId: r.event_id,
  webhookId: webhookIdOf(r.event_id),
  type: r.type,
  notificationId: r.notification_id,
  state: r.state,
  createdAt: r.created_at.toISOString(),
  deliveredAt: r.delivered_at?.toISOString() ?? null,
  nextAttemptAt: r.state === 'pending' ? r.next_attempt_at.toISOString() : null,
  payload: r.body,
  attempts: r.attempts.map((a) => ({ ...a, at: iso(a.at)!, nextAttemptAt: iso(a.nextAttemptAt) })),
});

/** An endpoint's events, newest first, a page at a time (`beforeSeq` from the previous page). */
export async function listStatusEventDeliveries(
  db: Queryable,
  endpointId: string,
  page: { limit: number; beforeSeq?: string; state?: StatusEventState; type?: StatusEventType },
): Promise<{ items: StatusEventDelivery[]; lastSeq: string | null; more: boolean }> {
  const result = await db.query<DeliveryRow>(
    `${SELECT_DELIVERIES}
      WHERE e.endpoint_id = $1 AND ($2::bigint IS NULL OR e.seq < $2::bigint)
        AND ($3::text IS NULL OR e.state = $3) AND ($4::text IS NULL OR e.type = $4)
      ORDER BY e.seq DESC
      LIMIT $5`,
    [endpointId, page.beforeSeq ?? null, page.state ?? null, page.type ?? null, page.limit + 1],
  );
  const rows = result.rows.slice(0, page.limit);
  return {
    items: rows.map(toDelivery),
    lastSeq: rows[rows.length - 1]?.seq ?? null,
    more: result.rows.length > page.limit,
  };
}

export async function getStatusEventDelivery(
  db: Queryable,
  endpointId: string,
  eventId: string,
): Promise<StatusEventDelivery | null> {
  const result = await db.query<DeliveryRow>(
    `${SELECT_DELIVERIES} WHERE e.endpoint_id = $1 AND e.event_id = $2`,
    [endpointId, eventId],
  );
  return result.rows[0] ? toDelivery(result.rows[0]) : null;
}

/**
 * Sends an event again, now, with the same body and `webhook-id`: a fresh round of attempts (the
 * attempt cap counts from here). Clears any claim, so an attempt still in flight cannot end it.
 */
export async function replayStatusEvent(
  db: Queryable,
  endpointId: string,
  eventId: string,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE status_events
        SET state = 'pending', failures = 0, next_attempt_at = now(), claim = NULL, updated_at = now()
      WHERE endpoint_id = $1 AND event_id = $2`,
    [endpointId, eventId],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * Deletes up to `limit` finished events (delivered or given up) created more than `days` ago, with
 * their attempts, oldest first; returns how many. Pending ones stay, however old.
 */
export async function pruneStatusEvents(db: Queryable, days: number, limit: number): Promise<number> {
  const result = await db.query(
    `DELETE FROM status_events WHERE seq IN (
       SELECT seq FROM status_events
        WHERE state <> 'pending' AND created_at < now() - make_interval(days => $1)
        ORDER BY seq LIMIT $2)`,
    [days, limit],
  );
  return result.rowCount ?? 0;
}
