import type { Pool } from 'pg';
import { withTransaction } from '../pool';
import type { Queryable } from './recipients';

/** A browser's push subscription (RFC 8030 endpoint, RFC 8291 keys), owned by one recipient. */
export interface PushSubscription {
  id: string;
  externalId: string;
  endpoint: string;
  /** The browser's P-256 public key, base64url (65 bytes, uncompressed point). */
  p256dh: string;
  /** The browser's auth secret, base64url (16 bytes). */
  auth: string;
  userAgent: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface PushSubscriptionInput {
  endpoint: string;
  p256dh: string;
  auth: string;
  userAgent: string | null;
}

interface PushSubscriptionRow {
  id: string;
  external_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  user_agent: string | null;
  created_at: Date;
  last_used_at: Date | null;
}

const toSubscription = (row: PushSubscriptionRow): PushSubscription => ({
  id: String(row.id),
  externalId: row.external_id,
  endpoint: row.endpoint,
  p256dh: row.p256dh,
  auth: row.auth,
  userAgent: row.user_agent,
  createdAt: row.created_at.toISOString(),
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
});

export type SubscribeOutcome =
  | { ok: true; subscription: PushSubscription; created: boolean }
  /** The recipient has `count` other subscriptions, the most allowed; or (`count` null) no longer exists. */
  | { ok: false; count: number | null };

/**
 * Stores a subscription; an endpoint already known in the tenant is updated and moves to this
 * recipient (a browser shared by two people belongs to whoever subscribed last). An endpoint new to
 * the recipient is refused once they have `maxPerRecipient`: the recipient's row is locked while
 * counting, so concurrent subscribes (from any API process) cannot pass the cap together.
 */
export async function upsertPushSubscription(
  pool: Pool,
  tenantId: string,
  externalId: string,
  input: PushSubscriptionInput,
  maxPerRecipient: number,
): Promise<SubscribeOutcome> {
  return withTransaction(pool, async (db) => {
    const owner = await db.query(
      'SELECT 1 FROM recipients WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE',
      [tenantId, externalId],
    );
    if (owner.rowCount === 0) return { ok: false, count: null };
    const held = await db.query<{ others: string; mine: boolean }>(
      `SELECT count(*) FILTER (WHERE endpoint <> $3) AS others, coalesce(bool_or(endpoint = $3), false) AS mine
         FROM push_subscriptions WHERE tenant_id = $1 AND external_id = $2`,
      [tenantId, externalId, input.endpoint],
    );
    const others = Number(held.rows[0]!.others);
    if (!held.rows[0]!.mine && others >= maxPerRecipient) return { ok: false, count: others };
    const result = await db.query<PushSubscriptionRow & { created: boolean }>(
      `INSERT INTO push_subscriptions (tenant_id, external_id, endpoint, p256dh, auth, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, endpoint) DO UPDATE SET
         external_id = EXCLUDED.external_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
         user_agent = COALESCE(EXCLUDED.user_agent, push_subscriptions.user_agent)
       RETURNING *, (xmax = 0) AS created`,
      [tenantId, externalId, input.endpoint, input.p256dh, input.auth, input.userAgent],
    );
    const row = result.rows[0]!;
    return { ok: true, subscription: toSubscription(row), created: row.created };
  });
}

/** Every subscription of a recipient, oldest first. */
export async function listPushSubscriptions(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<PushSubscription[]> {
  const result = await db.query<PushSubscriptionRow>(
    'SELECT * FROM push_subscriptions WHERE tenant_id = $1 AND external_id = $2 ORDER BY id',
    [tenantId, externalId],
  );
  return result.rows.map(toSubscription);
}

/** Removes one subscription (the push service said it is gone); returns whether it existed. */
export async function deletePushSubscription(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const result = await db.query('DELETE FROM push_subscriptions WHERE tenant_id = $1 AND id = $2', [
    tenantId,
    id,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Removes a recipient's subscription by its endpoint (the browser unsubscribed). */
export async function deletePushSubscriptionByEndpoint(
  db: Queryable,
  tenantId: string,
  externalId: string,
  endpoint: string,
): Promise<boolean> {
  const result = await db.query(
    'DELETE FROM push_subscriptions WHERE tenant_id = $1 AND external_id = $2 AND endpoint = $3',
    [tenantId, externalId, endpoint],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Records that the push service accepted a message for these subscriptions. */
export async function markPushSubscriptionsUsed(
  db: Queryable,
  tenantId: string,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    'UPDATE push_subscriptions SET last_used_at = now() WHERE tenant_id = $1 AND id = ANY($2::bigint[])',
    [tenantId, ids],
  );
}
