import type { ChannelName } from '../../common/types';
import type { Queryable } from './recipients';
import { prepared } from '../prepared';

/** How many of an audience's people can be reached on each channel, and how many there are. */
export interface ReachablePeople {
  people: number;
  reachable: Record<ChannelName, number>;
}

interface ReachableRow {
  people: string;
  email: string;
  sms: string;
  whatsapp: string;
  push: string;
  webhook: string;
}

/**
 * Counts the distinct people among `recipients` and the members of `groupRefs` (keys or names),
 * and how many of them have an address on each channel: the rows `insertDeliveries` would make
 * `pending`, before preferences. In-app reaches everyone; tenant-wide webhook endpoints are counted
 * apart (see {@link countTenantWebhooks}).
 */
export async function countReachablePeople(
  db: Queryable,
  tenantId: string,
  recipients: string[],
  groupRefs: string[],
): Promise<ReachablePeople> {
  const result = await db.query<ReachableRow>(
    `WITH people AS (
       SELECT r.external_id, r.email, r.phone, r.whatsapp FROM recipients r
        WHERE r.tenant_id = $1 AND r.external_id = ANY($2::text[])
       UNION
       SELECT r.external_id, r.email, r.phone, r.whatsapp FROM group_members m
         JOIN groups g ON g.tenant_id = m.tenant_id AND g.key = m.group_key
         JOIN recipients r ON r.tenant_id = m.tenant_id AND r.external_id = m.external_id
        WHERE m.tenant_id = $1 AND (g.key = ANY($3::text[]) OR g.name = ANY($3::text[]))
     )
     SELECT count(*) AS people, count(p.email) AS email, count(p.phone) AS sms,
            count(p.whatsapp) AS whatsapp,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM push_subscriptions s
                                            WHERE s.tenant_id = $1 AND s.external_id = p.external_id)) AS push,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM webhook_endpoints w
                                            WHERE w.tenant_id = $1 AND w.external_id = p.external_id
                                              AND w.disabled_at IS NULL)) AS webhook
       FROM people p`,
    [tenantId, recipients, groupRefs],
  );
  const row = result.rows[0]!;
  const people = Number(row.people);
  return {
    people,
    reachable: {
      email: Number(row.email),
      sms: Number(row.sms),
      whatsapp: Number(row.whatsapp),
      push: Number(row.push),
      webhook: Number(row.webhook),
      inapp: people,
    },
  };
}

/** Channels one recipient has an address (or a subscription, an endpoint) on; in-app reaches everyone. */
export type RecipientReach = Record<Exclude<ChannelName, 'inapp'>, boolean>;

/**
 * The recipients among `ids` that exist, each with the channels `countReachablePeople` would count
 * it on: the API's existence check and, for an audience of recipients only, its send count, in
 * one read.
 */
export async function readRecipientReach(
  db: Queryable,
  tenantId: string,
  ids: string[],
): Promise<Map<string, RecipientReach>> {
  if (ids.length === 0) return new Map();
  const result = await db.query<{ external_id: string } & RecipientReach>(
    prepared(`SELECT r.external_id, r.email IS NOT NULL AS email, r.phone IS NOT NULL AS sms,
            r.whatsapp IS NOT NULL AS whatsapp,
            EXISTS (SELECT 1 FROM push_subscriptions s
                     WHERE s.tenant_id = $1 AND s.external_id = r.external_id) AS push,
            EXISTS (SELECT 1 FROM webhook_endpoints w
                     WHERE w.tenant_id = $1 AND w.external_id = r.external_id AND w.disabled_at IS NULL) AS webhook
       FROM recipients r WHERE r.tenant_id = $1 AND r.external_id = ANY($2::text[])`),
    [tenantId, ids],
  );
  return new Map(
    result.rows.map(({ external_id, ...reach }) => [external_id, reach as RecipientReach] as const),
  );
}

/** `countReachablePeople` of recipients only, from their reach (ids that do not exist count for nothing). */
export function reachablePeopleOf(reach: Map<string, RecipientReach>, ids: string[]): ReachablePeople {
  const reachable: Record<ChannelName, number> = {
    email: 0,
    sms: 0,
    whatsapp: 0,
    push: 0,
    webhook: 0,
    inapp: 0,
  };
  let people = 0;
  for (const id of new Set(ids)) {
    const own = reach.get(id);
    if (!own) continue;
    people++;
    for (const channel of Object.keys(own) as (keyof RecipientReach)[])
      if (own[channel]) reachable[channel]++;
  }
  reachable.inapp = people;
  return { people, reachable };
}

/** Active tenant-wide webhook endpoints: each receives every notification sent on the webhook channel. */
export async function countTenantWebhooks(db: Queryable, tenantId: string): Promise<number> {
  const result = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM webhook_endpoints
      WHERE tenant_id = $1 AND external_id IS NULL AND disabled_at IS NULL`,
    [tenantId],
  );
  return Number(result.rows[0]!.n);
}

/** The outcome of reserving sends on one channel for today (UTC). */
export interface ChannelReservation {
  ok: boolean;
  channel: ChannelName;
  /** The UTC day counted, `YYYY-MM-DD`. */
  day: string;
  used: number;
}

/**
 * Adds `sends` to the tenant's count for `channel` today (UTC, by the database's clock) unless that
 * would pass `limit`. One conditional upsert on one row: concurrent reservations from every API
 * process serialise on it, so together they never pass the limit. `used` is the count afterwards
 * when reserved, or the count that left no room.
 */
export async function reserveSends(
  db: Queryable,
  tenantId: string,
  channel: ChannelName,
  sends: number,
  limit: number,
): Promise<ChannelReservation> {
  const reserved = await db.query<{ count: number; day: string }>(
    `INSERT INTO tenant_send_usage AS u (tenant_id, channel, day, count)
     SELECT $1::text, $2::text, (now() AT TIME ZONE 'UTC')::date, $3::int WHERE $3::int <= $4::int
     ON CONFLICT (tenant_id, channel, day) DO UPDATE SET count = u.count + EXCLUDED.count
       WHERE u.count + EXCLUDED.count <= $4::int
     RETURNING count, day::text AS day`,
    [tenantId, channel, sends, limit],
  );
  if (reserved.rows[0]) return { ok: true, channel, day: reserved.rows[0].day, used: reserved.rows[0].count };
  const current = await db.query<{ count: number | null; day: string }>(
    `SELECT (SELECT count FROM tenant_send_usage
              WHERE tenant_id = $1 AND channel = $2 AND day = (now() AT TIME ZONE 'UTC')::date) AS count,
            (now() AT TIME ZONE 'UTC')::date::text AS day`,
    [tenantId, channel],
  );
  return { ok: false, channel, day: current.rows[0]!.day, used: current.rows[0]!.count ?? 0 };
}

/** Gives back sends reserved on `day` for a notification that was not started after all. */
export async function releaseSends(
  db: Queryable,
  tenantId: string,
  day: string,
  sends: Partial<Record<ChannelName, number>>,
): Promise<void> {
  const entries = Object.entries(sends).filter(([, n]) => (n ?? 0) > 0);
  if (entries.length === 0) return;
  await db.query(
    `UPDATE tenant_send_usage u SET count = greatest(0, u.count - r.n)
       FROM unnest($3::text[], $4::int[]) AS r(channel, n)
      WHERE u.tenant_id = $1 AND u.day = $2::date AND u.channel = r.channel`,
    [tenantId, day, entries.map(([channel]) => channel), entries.map(([, n]) => n)],
  );
}

/** The tenant's reserved sends per channel on `day` (UTC, `YYYY-MM-DD`; default today). */
export async function getSendUsage(
  db: Queryable,
  tenantId: string,
  day?: string,
): Promise<Partial<Record<ChannelName, number>>> {
  const result = await db.query<{ channel: ChannelName; count: number }>(
    `SELECT channel, count FROM tenant_send_usage
      WHERE tenant_id = $1 AND day = COALESCE($2::date, (now() AT TIME ZONE 'UTC')::date)`,
    [tenantId, day ?? null],
  );
  return Object.fromEntries(result.rows.map((r) => [r.channel, r.count]));
}
