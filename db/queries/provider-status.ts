import type { ChannelName } from '../../common/types';
import type { Queryable } from './recipients';

/**
 * How far along a message is, by the provider's status (Twilio's message statuses). A status moves a
 * delivery only when it ranks higher than the one recorded; `read` follows `delivered` (WhatsApp).
 */
export const PROVIDER_STATUS_RANK = {
  accepted: 1,
  scheduled: 1,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  read: 5,
  // Terminal: nothing moves a delivery on after these, and they cannot follow `delivered`.
  failed: 4,
  undelivered: 4,
  canceled: 4,
} as const;

export type ProviderStatus = keyof typeof PROVIDER_STATUS_RANK;

/** Statuses after which nothing changes; they end the delivery `failed`. */
export const TERMINAL_FAILURE_STATUSES: readonly ProviderStatus[] = ['failed', 'undelivered', 'canceled'];
/** Statuses that confirm receipt; they make the delivery `delivered`. */
export const DELIVERED_STATUSES: readonly ProviderStatus[] = ['delivered', 'read'];

export const isProviderStatus = (status: string): status is ProviderStatus =>
  Object.hasOwn(PROVIDER_STATUS_RANK, status);

export interface ProviderStatusUpdate {
  /** The channels the message may belong to (a Twilio SID is unique across SMS and WhatsApp). */
  channel: ChannelName | readonly ChannelName[];
  providerMessageId: string;
  status: string;
  errorCode?: string | null;
  errorMessage?: string | null;
}

/**
 * Records a provider's word on a sent message, forward only: a status that does not rank above the
 * recorded one (a late `sent` after `delivered`, a replayed callback, anything after a failure)
 * changes nothing. `delivered`/`read` make the delivery `delivered`; `failed`/`undelivered`/`canceled`
 * make it `failed` with the error; the others only set `provider_status`. One conditional UPDATE, so
 * concurrent callbacks for one message serialise on the row and cannot move it backwards. Returns
 * whether a row changed; unknown statuses and unknown message ids change nothing.
 */
export async function applyProviderStatus(db: Queryable, update: ProviderStatusUpdate): Promise<boolean> {
  if (!isProviderStatus(update.status)) return false;
  const channels = typeof update.channel === 'string' ? [update.channel] : [...update.channel];
  const ranks = Object.entries(PROVIDER_STATUS_RANK);
  const error = TERMINAL_FAILURE_STATUSES.includes(update.status) ? failureText(update) : null;
  const result = await db.query(
    `UPDATE deliveries d
        SET provider_status = $3::text,
            status = CASE WHEN $3::text = ANY($6::text[]) THEN 'delivered'
                          WHEN $3::text = ANY($7::text[]) THEN 'failed'
                          ELSE d.status END,
            error = CASE WHEN $3::text = ANY($7::text[]) THEN $8::text ELSE d.error END,
            updated_at = now()
      WHERE d.channel = ANY($1::text[]) AND d.provider_message_id = $2
        AND NOT (COALESCE(d.provider_status, '') = ANY($7::text[]))
        AND COALESCE((SELECT r.rank FROM unnest($4::text[], $5::int[]) AS r(status, rank)
                       WHERE r.status = d.provider_status), 0) < $9::int`,
    [
      channels,
      update.providerMessageId,
      update.status,
      ranks.map(([status]) => status),
      ranks.map(([, rank]) => rank),
      DELIVERED_STATUSES,
      TERMINAL_FAILURE_STATUSES,
      error,
      PROVIDER_STATUS_RANK[update.status],
    ],
  );
  return (result.rowCount ?? 0) > 0;
}

/** e.g. `undelivered (error 30003: Unreachable destination handset)`. */
function failureText({ status, errorCode, errorMessage }: ProviderStatusUpdate): string {
  if (!errorCode && !errorMessage) return status;
  const detail = [errorCode ? `error ${errorCode}` : null, errorMessage].filter(Boolean).join(': ');
  return `${status} (${detail})`;
}

/** How long a status for a message id no delivery has yet is kept, waiting for its send to store the id. */
export const PENDING_STATUS_TTL_HOURS = 24;

/** What a callback did: moved a delivery, changed nothing, or waits for its message id to be stored. */
export type ProviderStatusOutcome = 'applied' | 'unchanged' | 'pending';

/**
 * A provider's callback: applied like applyProviderStatus, or, when no delivery has this message id
 * yet (the callback overtook the send's answer), kept until the send stores the id
 * (applyPendingProviderStatuses). Unknown statuses change nothing; a replayed early callback is kept once.
 */
export async function recordProviderStatus(
  db: Queryable,
  update: ProviderStatusUpdate,
): Promise<ProviderStatusOutcome> {
  if (!isProviderStatus(update.status)) return 'unchanged';
  if (await applyProviderStatus(db, update)) return 'applied';
  const channels = typeof update.channel === 'string' ? [update.channel] : [...update.channel];
  const known = await db.query(
    'SELECT 1 FROM deliveries WHERE channel = ANY($1::text[]) AND provider_message_id = $2 LIMIT 1',
    [channels, update.providerMessageId],
  );
  if ((known.rowCount ?? 0) > 0) return 'unchanged';
  await db.query(
    `INSERT INTO pending_provider_statuses (provider_message_id, status, channels, error_code, error_message)
     VALUES ($1, $2, $3::text[], $4, $5)
     ON CONFLICT (provider_message_id, status) DO NOTHING`,
    [
      update.providerMessageId,
      update.status,
      channels,
      update.errorCode ?? null,
      update.errorMessage ?? null,
    ],
  );
  await db.query(
    `DELETE FROM pending_provider_statuses WHERE received_at < now() - make_interval(hours => $1::int)`,
    [PENDING_STATUS_TTL_HOURS],
  );
  // The send may have stored the id between the look above and the insert, and then found nothing
  // pending: look again. Of this look and the send's, at least one sees both writes.
  await applyPendingProviderStatuses(db, update.providerMessageId);
  return 'pending';
}

/**
 * Applies the callbacks kept for a message id once a delivery has it, lowest rank first, so the
 * forward-only rule ends where the provider's last word would have; then forgets them. Safe to run
 * twice at once (applying is idempotent). Called where the send stores the id. Returns how many moved the delivery.
 */
export async function applyPendingProviderStatuses(
  db: Queryable,
  providerMessageId: string,
): Promise<number> {
  const pending = await db.query<{
    status: string;
    channels: ChannelName[];
    error_code: string | null;
    error_message: string | null;
  }>(
    `SELECT p.status, p.channels, p.error_code, p.error_message
       FROM pending_provider_statuses p
      WHERE p.provider_message_id = $1
        AND EXISTS (SELECT 1 FROM deliveries d
                     WHERE d.channel = ANY(p.channels) AND d.provider_message_id = p.provider_message_id)`,
    [providerMessageId],
  );
  if (pending.rows.length === 0) return 0;
  const rank = (status: string) => (isProviderStatus(status) ? PROVIDER_STATUS_RANK[status] : 0);
  const rows = [...pending.rows].sort((a, b) => rank(a.status) - rank(b.status));
  let applied = 0;
  for (const row of rows) {
    const moved = await applyProviderStatus(db, {
      channel: row.channels,
      providerMessageId,
      status: row.status,
      errorCode: row.error_code,
      errorMessage: row.error_message,
    });
    if (moved) applied++;
  }
  await db.query(
    'DELETE FROM pending_provider_statuses WHERE provider_message_id = $1 AND status = ANY($2::text[])',
    [providerMessageId, rows.map((r) => r.status)],
  );
  return applied;
}

/** A delivery a provider failed after its send, whose recipient has a failover standby left at its level. */
export interface LateFailure {
  deliveryId: string;
  notificationId: string;
  tenantId: string;
  level: number;
}

/**
 * The delivery with this provider message id, when it has failed and the same recipient has a
 * standby waiting in the same notification level (a failover chain with a link left); null otherwise.
 */
export async function lateFailureWithStandby(
  db: Queryable,
  channels: readonly ChannelName[],
  providerMessageId: string,
  standbyPrefix: string,
): Promise<LateFailure | null> {
  const result = await db.query<{ id: string; notification_id: string; tenant_id: string; level: number }>(
    `SELECT d.id::text, d.notification_id, d.tenant_id, d.level
       FROM deliveries d
      WHERE d.channel = ANY($1::text[]) AND d.provider_message_id = $2 AND d.status = 'failed'
        AND EXISTS (SELECT 1 FROM deliveries s
                     WHERE s.notification_id = d.notification_id AND s.level = d.level
                       AND s.recipient_key = d.recipient_key AND s.status = 'skipped'
                       AND starts_with(s.error, $3))
      LIMIT 1`,
    [[...channels], providerMessageId, standbyPrefix],
  );
  const row = result.rows[0];
  return row
    ? { deliveryId: row.id, notificationId: row.notification_id, tenantId: row.tenant_id, level: row.level }
    : null;
}
