/**
 * The reads behind "why wasn't X told?" (api/services/explain.ts): one person's memberships, their
 * rows of one notification, the rows their shared address was merged into, and the notifications
 * that reached or targeted them. Read only; nothing here runs on the send path.
 */
import { toDelivery, type Delivery, type DeliveryRow } from './deliveries';
import type { Queryable } from './recipients';

export interface Membership {
  groupKey: string;
  groupName: string;
  /** When the person was added (group_members.added_at; a re-add after a removal starts anew). */
  addedAt: string;
}

/** Every group the person is a member of now, with when they joined it. */
export async function membershipsOf(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<Membership[]> {
  const result = await db.query<{ group_key: string; name: string; added_at: Date }>(
    `SELECT m.group_key, g.name, m.added_at FROM group_members m
       JOIN groups g ON g.tenant_id = m.tenant_id AND g.key = m.group_key
      WHERE m.tenant_id = $1 AND m.external_id = $2 ORDER BY g.name`,
    [tenantId, externalId],
  );
  return result.rows.map((r) => ({
    groupKey: r.group_key,
    groupName: r.name,
    addedAt: r.added_at.toISOString(),
  }));
}

/** People of the tenant whose email (any case), phone or WhatsApp number is `address`, at most `limit`. */
export async function recipientsWithAddress(
  db: Queryable,
  tenantId: string,
  address: string,
  limit = 10,
): Promise<string[]> {
  const result = await db.query<{ external_id: string }>(
    `SELECT external_id FROM recipients
      WHERE tenant_id = $1 AND (lower(email) = lower($2) OR phone = $2 OR whatsapp = $2)
      ORDER BY external_id LIMIT $3`,
    [tenantId, address, limit],
  );
  return result.rows.map((r) => r.external_id);
}

/** A send attempt that came back unsent, with the provider's answer (db/migrations/0024). */
export interface FailedAttempt {
  attempt: number;
  outcome: 'retrying' | 'failed';
  error: string | null;
  at: string;
}

export interface ExplainedDelivery extends Delivery {
  /** Set for a digested delivery: when its digest went out (null: not yet). */
  digestSentAt: string | null;
  digested: boolean;
  /** Its failed attempts, oldest first; a successful last attempt is the row itself. */
  failedAttempts: FailedAttempt[];
}

type ExplainedRow = DeliveryRow & {
  digest_item: boolean;
  digest_sent_at: Date | null;
  failed_attempts: FailedAttempt[];
};

const toExplained = (row: ExplainedRow): ExplainedDelivery => ({
  ...toDelivery(row),
  digested: row.digest_item,
  digestSentAt: row.digest_sent_at?.toISOString() ?? null,
  failedAttempts: row.failed_attempts,
});

const EXPLAINED_SELECT = `SELECT d.*, (i.id IS NOT NULL) AS digest_item, i.sent_at AS digest_sent_at,
            COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'outcome', a.outcome,
                                        'error', a.error,
                                        'at', to_char(a.attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                                      ORDER BY a.attempt)
                        FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]'::json) AS failed_attempts
       FROM deliveries d LEFT JOIN digest_items i ON i.delivery_id = d.id`;

/**
 * The person's own rows of a notification: as a known recipient (`externalId`) or under their raw
 * keys (`email:<address>`, `phone:<number>`), every level, in level and id order.
 */
export async function deliveriesOfPerson(
  db: Queryable,
  notificationId: string,
  who: { externalId: string | null; rawKeys: string[] },
): Promise<ExplainedDelivery[]> {
  const result = await db.query<ExplainedRow>(
    `${EXPLAINED_SELECT}
      WHERE d.notification_id = $1 AND (d.external_id = $2 OR d.recipient_key = ANY($3::text[]))
      ORDER BY d.level, d.id`,
    [notificationId, who.externalId, who.rawKeys],
  );
  return result.rows.map(toExplained);
}

/**
 * The row that carries `address` on `channel` at `level` for someone other than `notKey`: where a
 * shared address was merged (one address gets one message).
 */
export async function rowWithAddress(
  db: Queryable,
  notificationId: string,
  p: { level: number; channel: string; address: string; notKey: string },
): Promise<Delivery | null> {
  const result = await db.query<DeliveryRow>(
    `SELECT * FROM deliveries
      WHERE notification_id = $1 AND level = $2 AND channel = $3 AND address = $4 AND recipient_key <> $5
      ORDER BY id LIMIT 1`,
    [notificationId, p.level, p.channel, p.address, p.notKey],
  );
  return result.rows[0] ? toDelivery(result.rows[0]) : null;
}

/** Which levels of a notification have any rows yet (an escalation level that never fired has none). */
export async function levelsWithRows(db: Queryable, notificationId: string): Promise<number[]> {
  // A loose index scan: one probe per level instead of reading every row of a big notification.
  const result = await db.query<{ level: number }>(
    `WITH RECURSIVE levels AS (
       (SELECT level FROM deliveries WHERE notification_id = $1 ORDER BY level LIMIT 1)
       UNION ALL
       SELECT (SELECT d.level FROM deliveries d WHERE d.notification_id = $1 AND d.level > l.level
                ORDER BY d.level LIMIT 1)
         FROM levels l WHERE l.level IS NOT NULL
     ) SELECT level FROM levels WHERE level IS NOT NULL`,
    [notificationId],
  );
  return result.rows.map((r) => r.level);
}

export interface PersonNotificationRow {
  id: string;
  event: string;
  priority: string;
  status: string;
  createdAt: string;
  /** created_at to the microsecond, for the page cursor (an ISO string stops at milliseconds). */
  position: string;
  /** The request's `to` (the audience of the notification itself). */
  audience: { recipients?: string[]; groups?: string[]; emails?: string[]; phones?: string[] };
  /** The person's rows of it: channel, level, status and reason. */
  deliveries: { channel: string; level: number; status: string; error: string | null }[];
}

/**
 * A page of the notifications that reached or targeted a person, newest first: those with a row of
 * theirs, and those whose request names them, one of their groups (by key or name) or one of their
 * addresses, at the notification itself or an escalation level. Keyset-paged on (created_at, id).
 */
export async function notificationsOfPerson(
  db: Queryable,
  p: {
    tenantId: string;
    externalId: string;
    groupRefs: string[];
    addresses: string[];
    before: { position: string; id: string } | null;
    limit: number;
  },
): Promise<PersonNotificationRow[]> {
  const result = await db.query<{
    id: string;
    event: string;
    priority: string;
    status: string;
    created_at: Date;
    position: string;
    audience: PersonNotificationRow['audience'] | null;
    deliveries: PersonNotificationRow['deliveries'] | null;
  }>(
    `SELECT n.id, n.event, n.priority, n.status, n.created_at,
            to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position,
            n.request->'to' AS audience,
            (SELECT json_agg(json_build_object('channel', d.channel, 'level', d.level, 'status', d.status,
                                               'error', d.error) ORDER BY d.level, d.id)
               FROM deliveries d
              WHERE d.notification_id = n.id
                AND (d.external_id = $2 OR d.recipient_key = ANY(SELECT 'email:' || x FROM unnest($4::text[]) x)
                     OR d.recipient_key = ANY(SELECT 'phone:' || x FROM unnest($4::text[]) x))) AS deliveries
       FROM notifications n
      WHERE n.tenant_id = $1
        AND ($5::timestamptz IS NULL OR (n.created_at, n.id) < ($5::timestamptz, $6::uuid))
        AND (
          EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant_id = $1 AND d.recipient_key = $2 AND d.notification_id = n.id)
          OR EXISTS (
            SELECT 1
              FROM (SELECT n.request->'to'
                    UNION ALL
                    SELECT l FROM jsonb_array_elements(COALESCE(n.request->'escalation'->'levels', '[]'::jsonb)) l
                   ) AS a(audience)
             WHERE (COALESCE(a.audience->'recipients', '[]'::jsonb) ? $2
                    OR COALESCE(a.audience->'groups', '[]'::jsonb) ?| $3::text[]
                    OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE(a.audience->'emails', '[]'::jsonb)) e
                                WHERE lower(e) = ANY($4::text[]))
                    OR COALESCE(a.audience->'phones', '[]'::jsonb) ?| $4::text[])
          )
        )
      ORDER BY n.created_at DESC, n.id DESC
      LIMIT $7`,
    [
      p.tenantId,
      p.externalId,
      p.groupRefs,
      p.addresses,
      p.before?.position ?? null,
      p.before?.id ?? null,
      p.limit,
    ],
  );
  return result.rows.map((r) => ({
    id: r.id,
    event: r.event,
    priority: r.priority,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    position: r.position,
    audience: r.audience ?? {},
    deliveries: r.deliveries ?? [],
  }));
}

/** The tenant a notification belongs to (the CLI's operator view, where no key names one). */
export async function tenantOfNotification(db: Queryable, id: string): Promise<string | null> {
  const result = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM notifications WHERE id = $1', [
    id,
  ]);
  return result.rows[0]?.tenant_id ?? null;
}
