import type { ChannelName } from '../../common/types';
import type { Queryable } from './recipients';
import { prepared } from '../prepared';

/** Whether any recipient policy exists in the tenant; when none does, resolution skips the per-recipient pass. */
export async function tenantHasPolicies(db: Queryable, tenantId: string): Promise<boolean> {
  const result = await db.query<{ any: boolean }>(
    prepared(`SELECT EXISTS (SELECT 1 FROM preferences WHERE tenant_id = $1)
         OR EXISTS (SELECT 1 FROM group_preferences WHERE tenant_id = $1)
         OR EXISTS (SELECT 1 FROM recipients WHERE tenant_id = $1 AND (digest IS NOT NULL OR failover IS NOT NULL))
         OR EXISTS (SELECT 1 FROM email_suppressions WHERE tenant_id = $1)
       AS any`),
    [tenantId],
  );
  return result.rows[0]?.any ?? false;
}

/** A pending delivery with what the recipient policies need to decide about it. */
export interface PolicyRow {
  id: string;
  externalId: string;
  channel: ChannelName;
  address: string;
  digest: { events?: unknown } | null;
  failover: ChannelName[] | null;
}

/**
 * The pending deliveries of the next page of recipients (by externalId) of a notification level, so
 * every decision about one person is taken with all of their rows at hand.
 */
export async function policyRowsPage(
  db: Queryable,
  notificationId: string,
  level: number,
  afterExternalId: string,
  recipients: number,
): Promise<PolicyRow[]> {
  const people = await db.query<{ external_id: string }>(
    `SELECT DISTINCT external_id FROM deliveries
      WHERE notification_id = $1 AND level = $2 AND status = 'pending' AND external_id > $3
      ORDER BY external_id LIMIT $4`,
    [notificationId, level, afterExternalId, recipients],
  );
  if (people.rows.length === 0) return [];
  // Two steps rather than a join on the page: the planner otherwise rescans the notification per person.
  const result = await db.query<{
    id: string;
    external_id: string;
    channel: ChannelName;
    address: string;
    digest: { events?: unknown } | null;
    failover: ChannelName[] | null;
  }>(
    `SELECT d.id, d.external_id, d.channel, d.address, r.digest, r.failover
       FROM deliveries d
       JOIN recipients r ON r.tenant_id = d.tenant_id AND r.external_id = d.external_id
      WHERE d.notification_id = $1 AND d.level = $2 AND d.status = 'pending' AND d.external_id = ANY($3::text[])
      ORDER BY d.external_id, d.id`,
    [notificationId, level, people.rows.map((p) => p.external_id)],
  );
  return result.rows.map((r) => ({
    id: String(r.id),
    externalId: r.external_id,
    channel: r.channel,
    address: r.address,
    digest: r.digest,
    failover: r.failover,
  }));
}

export interface PolicyOutcome {
  id: string;
  /**
   * `suppressed` with a reason (a policy refused it), `skipped` (a failover standby), `digested`, or
   * still `pending` (perhaps at another address).
   */
  status: 'pending' | 'skipped' | 'suppressed' | 'digested';
  reason: string | null;
  address: string;
}

/** Writes a page of decisions in one statement, and the digest items of the digested ones. */
export async function applyPolicyOutcomes(
  db: Queryable,
  notificationId: string,
  outcomes: PolicyOutcome[],
  data: Record<string, unknown>,
): Promise<void> {
  if (outcomes.length === 0) return;
  await db.query(
    `UPDATE deliveries d SET status = o.status, error = o.reason, address = o.address, updated_at = now()
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS o(id, status, reason, address)
      WHERE d.id = o.id`,
    [
      outcomes.map((o) => o.id),
      outcomes.map((o) => o.status),
      outcomes.map((o) => o.reason),
      outcomes.map((o) => o.address),
    ],
  );
  const digested = outcomes.filter((o) => o.status === 'digested').map((o) => o.id);
  if (digested.length === 0) return;
  await db.query(
    `INSERT INTO digest_items (tenant_id, external_id, delivery_id, notification_id, event, channel, data)
     SELECT d.tenant_id, d.external_id, d.id, d.notification_id, d.event, d.channel, $3::jsonb
       FROM deliveries d WHERE d.notification_id = $1 AND d.id = ANY($2::bigint[])
     ON CONFLICT (delivery_id) DO NOTHING`,
    [notificationId, digested, JSON.stringify(data)],
  );
}

/** The rows of one recipient's failover chain, for deciding which standby to wake. */
export interface FailoverChain {
  externalId: string;
  failover: ChannelName[];
  rows: { id: string; channel: ChannelName; status: string; error: string | null }[];
}

/** Recipients of a notification level with a failover chain and at least one failed delivery. */
export async function failoverChains(
  db: Queryable,
  notificationId: string,
  level: number,
): Promise<FailoverChain[]> {
  const result = await db.query<{
    external_id: string;
    failover: ChannelName[];
    rows: FailoverChain['rows'];
  }>(
    `SELECT d.external_id, r.failover,
            json_agg(json_build_object('id', d.id::text, 'channel', d.channel, 'status', d.status, 'error', d.error)) AS rows
       FROM deliveries d
       JOIN recipients r ON r.tenant_id = d.tenant_id AND r.external_id = d.external_id
      WHERE d.notification_id = $1 AND d.level = $2 AND r.failover IS NOT NULL
      GROUP BY d.external_id, r.failover
     HAVING bool_or(d.status = 'failed')`,
    [notificationId, level],
  );
  return result.rows.map((r) => ({ externalId: r.external_id, failover: r.failover, rows: r.rows }));
}

/** Wakes standby deliveries: pending again, remembering which channel's failure sent them. */
export async function wakeStandbys(
  db: Queryable,
  wakes: { id: string; failoverFrom: ChannelName }[],
): Promise<void> {
  if (wakes.length === 0) return;
  await db.query(
    `UPDATE deliveries d SET status = 'pending', error = NULL, failover_from = w.failover_from, updated_at = now()
       FROM unnest($1::bigint[], $2::text[]) AS w(id, failover_from)
      WHERE d.id = w.id AND d.status = 'skipped'`,
    [wakes.map((w) => w.id), wakes.map((w) => w.failoverFrom)],
  );
}
