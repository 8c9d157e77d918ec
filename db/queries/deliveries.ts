import {
  CHANNELS,
  type ChannelName,
  type DeliveryStatus,
  type IdRange,
  type RangeCursor,
} from '../../common/types';
import { applyPendingProviderStatuses } from './provider-status';
import type { Queryable } from './recipients';
import { prepared } from '../prepared';

export interface Delivery {
  id: string;
  notificationId: string;
  event: string;
  recipientKey: string;
  externalId: string | null;
  recipientName: string | null;
  channel: string;
  /** 0 for the notification itself, 1… for its escalation levels. */
  level: number;
  /** Not to be sent before this (the end of the recipient's quiet hours). */
  notBefore: string | null;
  /** The channel whose permanent failure made this one go out (failover). */
  failoverFrom: string | null;
  address: string;
  status: DeliveryStatus;
  attempts: number;
  providerMessageId: string | null;
  providerStatus: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

interface DeliveryRow {
  id: string;
  notification_id: string;
  event: string;
  recipient_key: string;
  external_id: string | null;
  recipient_name: string | null;
  channel: string;
  level: number;
  not_before: Date | null;
  failover_from: string | null;
  address: string;
  status: DeliveryStatus;
  attempts: number;
  provider_message_id: string | null;
  provider_status: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: String(row.id),
  notificationId: row.notification_id,
  event: row.event,
  recipientKey: row.recipient_key,
  externalId: row.external_id,
  recipientName: row.recipient_name,
  channel: row.channel,
  level: row.level,
  notBefore: row.not_before?.toISOString() ?? null,
  failoverFrom: row.failover_from,
  address: row.address,
  status: row.status,
  attempts: row.attempts,
  providerMessageId: row.provider_message_id,
  providerStatus: row.provider_status,
  error: row.error,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  sentAt: row.sent_at?.toISOString() ?? null,
});

/** The statuses a send may still change; `sent`, `failed` and `skipped` are final. */
export const OPEN_STATUSES: DeliveryStatus[] = ['pending', 'sending', 'retrying'];

export interface ResolveAudience {
  notificationId: string;
  tenantId: string;
  event: string;
  recipientIds: string[];
  groupKeys: string[];
  emails: string[];
  phones: string[];
  channels: ChannelName[];
  /** 0 for the notification itself, 1… for escalation levels. */
  level: number;
}

/*
 * The resolve insert, in parts both of its statements share. `candidates` is one row per person
 * (`t`: a recipients row) and channel (`c`), with the person's address on it (NULL: none, which
 * becomes a `skipped` row saying why); `people` keeps one row per channel and shared address.
 */
const ADDRESS_ON_CHANNEL = (tenant: string): Record<ChannelName, string> => ({
  email: 'lower(t.email)',
  sms: 't.phone',
  whatsapp: 't.whatsapp',
  inapp: "'inbox'",
  push: `(SELECT CASE WHEN count(*) = 1 THEN '1 push subscription'
                      WHEN count(*) > 1 THEN count(*) || ' push subscriptions' END
            FROM push_subscriptions s
           WHERE s.tenant_id = ${tenant} AND s.external_id = t.external_id)`,
  webhook: `(SELECT 'webhook:' || w.id FROM webhook_endpoints w
              WHERE w.tenant_id = ${tenant} AND w.external_id = t.external_id
                AND w.disabled_at IS NULL ORDER BY w.created_at LIMIT 1)`,
});

/**
 * Only the branches of the channels asked for: the planner plans every branch it is given, and a
 * one-email notification has no use for the push and webhook look-ups (the text is one of at most
 * 63, each planned, named, once per connection).
 */
const addressOnChannel = (tenant: string, channels: readonly ChannelName[]) => {
  const of = ADDRESS_ON_CHANNEL(tenant);
  return `CASE c.channel ${channels.map((channel) => `WHEN '${channel}' THEN ${of[channel]}`).join(' ')} END`;
};

/**
 * A statement per set of channels, built once: the set (in CHANNELS order) is all that varies its
 * text, and building and hashing the text again on every resolve is work the hot path need not do.
 */
function perChannelSet<T>(build: (channels: readonly ChannelName[]) => T) {
  const built = new Map<string, T>();
  return (channels: readonly ChannelName[]): T => {
    const set = CHANNELS.filter((channel) => channels.includes(channel));
    const key = set.join(',');
    let statement = built.get(key);
    if (statement === undefined) built.set(key, (statement = build(set)));
    return statement;
  };
}

// One row per channel and address; per person where the address is not shared.
const PEOPLE = `SELECT DISTINCT ON (channel, CASE WHEN channel IN ('email', 'sms', 'whatsapp') THEN address END,
                           CASE WHEN channel IN ('email', 'sms', 'whatsapp') AND address IS NOT NULL THEN '' ELSE external_id END)
              external_id, name, channel, address
         FROM candidates
        ORDER BY channel, CASE WHEN channel IN ('email', 'sms', 'whatsapp') THEN address END,
                 CASE WHEN channel IN ('email', 'sms', 'whatsapp') AND address IS NOT NULL THEN '' ELSE external_id END,
                 external_id`;

const INSERT_DELIVERIES = `INSERT INTO deliveries (notification_id, tenant_id, event, recipient_key, external_id,
                             recipient_name, channel, address, status, error, level)`;

const peopleRows = (p: { notification: string; tenant: string; event: string; level: string }) =>
  `SELECT ${p.notification}::uuid, ${p.tenant}, ${p.event}, external_id, external_id, name, channel, COALESCE(address, ''),
            CASE WHEN address IS NULL THEN 'skipped' ELSE 'pending' END,
            CASE WHEN address IS NULL THEN
              CASE channel WHEN 'email' THEN 'no email address' WHEN 'sms' THEN 'no phone number'
                           WHEN 'whatsapp' THEN 'no WhatsApp number' WHEN 'push' THEN 'no push subscription' END
            END, ${p.level}::int
       FROM people WHERE NOT (channel = 'webhook' AND address IS NULL)`;

// The tenant's webhook endpoints that are no person's: each gets every notification sent on webhooks.
const tenantWebhooks = (p: { notification: string; tenant: string; event: string; level: string }) =>
  `SELECT ${p.notification}::uuid, ${p.tenant}, ${p.event}, 'webhook:' || w.id, NULL, NULL, 'webhook', 'webhook:' || w.id,
            'pending', NULL, ${p.level}::int
       FROM webhook_endpoints w
      WHERE w.tenant_id = ${p.tenant} AND w.external_id IS NULL AND w.disabled_at IS NULL`;

const ON_CONFLICT = 'ON CONFLICT ON CONSTRAINT deliveries_delivery_key DO NOTHING';

/** Groups and raw addresses too: the audience may be any size, so it is planned for the call. */
const resolveAnyAudience = (channels: readonly ChannelName[]) => {
  const p = { tenant: '$1', notification: '$5', event: '$6', level: '$9' };
  return `WITH targets AS (
       SELECT r.external_id, r.name, r.email, r.phone, r.whatsapp FROM recipients r
        WHERE r.tenant_id = $1 AND r.external_id = ANY($2::text[])
       UNION
       SELECT r.external_id, r.name, r.email, r.phone, r.whatsapp FROM group_members m
         JOIN recipients r ON r.tenant_id = m.tenant_id AND r.external_id = m.external_id
        WHERE m.tenant_id = $1 AND m.group_key = ANY($3::text[])
     ), candidates AS (
       SELECT t.external_id, t.name, c.channel, ${addressOnChannel(p.tenant, channels)} AS address
         FROM targets t CROSS JOIN unnest($7::text[]) AS c(channel)
     ), people AS (${PEOPLE}
     ), raw AS (
       SELECT DISTINCT 'email' AS channel, 'email:' || lower(e) AS recipient_key, lower(e) AS address
         FROM unnest($4::text[]) AS e WHERE 'email' = ANY($7::text[])
       UNION
       SELECT DISTINCT c, 'phone:' || ph, ph FROM unnest($8::text[]) AS ph
         CROSS JOIN unnest(ARRAY['sms', 'whatsapp']) AS c WHERE c = ANY($7::text[])
     )
     ${INSERT_DELIVERIES}
     ${peopleRows(p)}
     UNION ALL
     SELECT $5::uuid, $1, $6, r.recipient_key, NULL, NULL, r.channel, r.address, 'pending', NULL, $9::int FROM raw r
      WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.channel = r.channel AND p.address = r.address)
     ${channels.includes('webhook') ? `UNION ALL ${tenantWebhooks(p)}` : ''}
     ${ON_CONFLICT}`;
};

/**
 * Known recipients only (at most the API's 10,000 ids), the common audience: the same rows as
 * resolveAnyAudience would make, from a statement without the group and raw-address parts.
 * Planning the general one was about a third of PostgreSQL's time for a one-email notification.
 */
const resolveKnownRecipients = (channels: readonly ChannelName[]) => {
  const p = { tenant: '$1', notification: '$3', event: '$4', level: '$6' };
  return `WITH candidates AS (
       SELECT t.external_id, t.name, c.channel, ${addressOnChannel(p.tenant, channels)} AS address
         FROM recipients t CROSS JOIN unnest($5::text[]) AS c(channel)
        WHERE t.tenant_id = $1 AND t.external_id = ANY($2::text[])
     ), people AS (${PEOPLE}
     )
     ${INSERT_DELIVERIES}
     ${peopleRows(p)}
     ${channels.includes('webhook') ? `UNION ALL ${tenantWebhooks(p)}` : ''}
     ${ON_CONFLICT}`;
};

const knownRecipientsStatement = perChannelSet((channels) => prepared(resolveKnownRecipients(channels)));
const anyAudienceStatement = perChannelSet(resolveAnyAudience);

/**
 * Resolves recipients, group members and raw addresses into one delivery row per person (or raw
 * address) and channel, in the database, without loading the audience into memory. One address gets
 * one row per channel: people sharing an address, and raw addresses equal to a person's, are merged.
 * A person with no address for a channel gets a `skipped` row saying why (except webhooks, which
 * only exist where an endpoint is registered). Re-running it adds nothing (the delivery key).
 */
export async function insertDeliveries(db: Queryable, a: ResolveAudience): Promise<void> {
  if (a.channels.length === 0) return; // no row to make, not even a tenant webhook's
  if (a.groupKeys.length === 0 && a.emails.length === 0 && a.phones.length === 0) {
    await db.query(knownRecipientsStatement(a.channels), [
      a.tenantId,
      a.recipientIds,
      a.notificationId,
      a.event,
      a.channels,
      a.level,
    ]);
    return;
  }
  await db.query(anyAudienceStatement(a.channels), [
    a.tenantId,
    a.recipientIds,
    a.groupKeys,
    a.emails,
    a.notificationId,
    a.event,
    a.channels,
    a.phones,
    a.level,
  ]);
}

/** A batch as the range queries select it: one channel and quiet-hours group, by id. */
interface RangeRow {
  channel: ChannelName;
  not_before: Date | null;
  from_id: string;
  to_id: string;
  size: string;
  label: string;
}

const toRange =
  (level: number) =>
  (r: RangeRow): IdRange => ({
    channel: r.channel,
    level,
    notBefore: r.not_before?.toISOString() ?? null,
    fromId: String(r.from_id),
    toId: String(r.to_id),
    size: Number(r.size),
    label: r.label,
  });

/** Splits the open deliveries of a notification into id ranges of at most `batchSize` rows per channel. */
export async function openDeliveryRanges(
  db: Queryable,
  notificationId: string,
  batchSize: number,
  level = 0,
  onlyIds: string[] | null = null,
): Promise<{ ranges: IdRange[]; recipients: number; deliveries: number }> {
  const ranges = await db.query<RangeRow>(
    `SELECT channel, not_before, min(id) AS from_id, max(id) AS to_id, count(*) AS size,
            CASE WHEN count(*) <= 3 THEN string_agg(who, ', ' ORDER BY id)
                 ELSE (array_agg(who ORDER BY id))[1] || ' … '
                      || (array_agg(who ORDER BY id DESC))[1]
                      || ' (' || count(*) || ' recipients)' END AS label
     FROM (
       SELECT id, channel, not_before,
              CASE WHEN channel IN ('push', 'inapp') THEN COALESCE(external_id, address) ELSE address END AS who,
              (row_number() OVER (PARTITION BY channel, not_before ORDER BY id) - 1) / $2 AS bucket
         FROM deliveries WHERE notification_id = $1 AND level = $4 AND status = ANY($3::text[])
          AND ($5::bigint[] IS NULL OR id = ANY($5::bigint[]))
     ) b GROUP BY channel, not_before, bucket ORDER BY not_before NULLS FIRST, min(id)`,
    [notificationId, batchSize, OPEN_STATUSES, level, onlyIds],
  );
  const totals = await db.query<{ recipients: string; deliveries: string }>(
    `SELECT count(DISTINCT recipient_key) AS recipients, count(*) AS deliveries FROM deliveries
      WHERE notification_id = $1 AND level = $2`,
    [notificationId, level],
  );
  return {
    ranges: ranges.rows.map(toRange(level)),
    recipients: Number(totals.rows[0]?.recipients ?? 0),
    deliveries: Number(totals.rows[0]?.deliveries ?? 0),
  };
}

/**
 * The next page of a level's open deliveries after `after`, in send order, cut into ranges of at
 * most `batchSize` (each range one channel and one quiet-hours group). `cursor` is null at the end.
 * The statuses are spelled out so the partial index `deliveries_open_pages` serves the query.
 */
export async function openDeliveryRangesPage(
  db: Queryable,
  p: {
    notificationId: string;
    level: number;
    batchSize: number;
    maxRanges: number;
    after: RangeCursor | null;
  },
): Promise<{ ranges: IdRange[]; cursor: RangeCursor | null }> {
  const result = await db.query<RangeRow>(
    `WITH page AS (
       SELECT id, channel, not_before,
              CASE WHEN channel IN ('push', 'inapp') THEN COALESCE(external_id, address) ELSE address END AS who
         FROM deliveries
        WHERE notification_id = $1 AND level = $2 AND status IN ('pending', 'sending', 'retrying')
          AND ($4::text IS NULL OR (COALESCE(not_before, '-infinity'::timestamptz), channel, id)
                                   > (COALESCE($3::timestamptz, '-infinity'::timestamptz), $4::text, $5::bigint))
        ORDER BY COALESCE(not_before, '-infinity'::timestamptz), channel, id
        LIMIT $6
     ), buckets AS (
       SELECT *, (row_number() OVER (PARTITION BY not_before, channel ORDER BY id) - 1) / $7 AS bucket FROM page
     )
     SELECT channel, not_before, min(id) AS from_id, max(id) AS to_id, count(*) AS size,
            CASE WHEN count(*) <= 3 THEN string_agg(who, ', ' ORDER BY id)
                 ELSE (array_agg(who ORDER BY id))[1] || ' … ' || (array_agg(who ORDER BY id DESC))[1]
                      || ' (' || count(*) || ' recipients)' END AS label
       FROM buckets GROUP BY not_before, channel, bucket
      ORDER BY COALESCE(not_before, '-infinity'::timestamptz), channel, min(id)`,
    [
      p.notificationId,
      p.level,
      p.after?.notBefore ?? null,
      p.after?.channel ?? null,
      p.after?.id ?? null,
      p.maxRanges * p.batchSize,
      p.batchSize,
    ],
  );
  const ranges = result.rows.map(toRange(p.level));
  const rows = ranges.reduce((n, r) => n + r.size, 0);
  const last = ranges[ranges.length - 1];
  // A short page is the last one.
  const cursor =
    last && rows >= p.maxRanges * p.batchSize
      ? { notBefore: last.notBefore, channel: last.channel, id: last.toId }
      : null;
  return { ranges, cursor };
}

/** A notification level as the log has it now (see `levelSummary`). */
export interface LevelSummary {
  recipients: number;
  deliveries: number;
  /** Deliveries still to send (pending, sending, retrying). */
  open: number;
  /** The batches those make (paging may cut one or two more). */
  batches: number;
  /** Deliveries quiet hours hold back, and when the first of them may go. */
  held: number;
  heldUntil: string | null;
}

/**
 * A level's size; its open deliveries and the batches they make; those quiet hours hold back past
 * `now`, with the first end among them.
 */
export async function levelSummary(
  db: Queryable,
  p: { notificationId: string; level: number; batchSize: number; now: Date },
): Promise<LevelSummary> {
  const result = await db.query<{
    recipients: string;
    deliveries: string;
    open: string;
    batches: string | null;
    held: string;
    held_until: Date | null;
  }>(
    prepared(`WITH level AS (
       SELECT recipient_key, channel, not_before, status = ANY($3::text[]) AS open
         FROM deliveries WHERE notification_id = $1 AND level = $2
     ), groups AS (
       SELECT count(*) AS n FROM level WHERE open GROUP BY channel, not_before
     )
     SELECT count(DISTINCT recipient_key) AS recipients, count(*) AS deliveries,
            count(*) FILTER (WHERE open) AS open,
            (SELECT sum(ceil(n::numeric / $5)) FROM groups) AS batches,
            count(*) FILTER (WHERE open AND not_before > $4) AS held,
            min(not_before) FILTER (WHERE open AND not_before > $4) AS held_until
       FROM level`),
    [p.notificationId, p.level, OPEN_STATUSES, p.now, p.batchSize],
  );
  const row = result.rows[0];
  return {
    recipients: Number(row?.recipients ?? 0),
    deliveries: Number(row?.deliveries ?? 0),
    open: Number(row?.open ?? 0),
    batches: Number(row?.batches ?? 0),
    held: Number(row?.held ?? 0),
    heldUntil: row?.held_until?.toISOString() ?? null,
  };
}

/** Channels that wait for the end of quiet hours; the inbox and webhooks are silent, so they do not. */
export const QUIET_CHANNELS: ChannelName[] = ['email', 'push', 'sms', 'whatsapp'];

export interface QuietHoursCandidate {
  id: string;
  quietHours: { start: string; end: string };
  timezone: string | null;
}

/** A page of a notification level's pending deliveries whose recipient keeps quiet hours, by id. */
export async function quietHoursCandidates(
  db: Queryable,
  notificationId: string,
  level: number,
  afterId: string,
  limit: number,
): Promise<QuietHoursCandidate[]> {
  // The recipient's own quiet hours and zone, else the tenant's defaults.
  const result = await db.query<{
    id: string;
    quiet_hours: { start: string; end: string };
    timezone: string | null;
  }>(
    prepared(`SELECT d.id, COALESCE(r.quiet_hours, t.quiet_hours) AS quiet_hours,
            COALESCE(r.timezone, t.timezone) AS timezone
       FROM deliveries d
       JOIN recipients r ON r.tenant_id = d.tenant_id AND r.external_id = d.external_id
       LEFT JOIN tenants t ON t.id = d.tenant_id
      WHERE d.notification_id = $1 AND d.level = $2 AND d.status = 'pending' AND d.channel = ANY($3::text[])
        AND COALESCE(r.quiet_hours, t.quiet_hours) IS NOT NULL AND d.id > $4
      ORDER BY d.id LIMIT $5`),
    [notificationId, level, QUIET_CHANNELS, afterId, limit],
  );
  return result.rows.map((r) => ({ id: String(r.id), quietHours: r.quiet_hours, timezone: r.timezone }));
}

/** Sets when each delivery may go out, in one statement. */
export async function setNotBefore(db: Queryable, updates: { id: string; notBefore: Date }[]): Promise<void> {
  if (updates.length === 0) return;
  await db.query(
    `UPDATE deliveries d SET not_before = u.not_before, updated_at = now()
       FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, not_before) WHERE d.id = u.id`,
    [updates.map((u) => u.id), updates.map((u) => u.notBefore)],
  );
}

/** An open delivery with what its render needs to know of the person. */
export interface OpenDelivery extends Delivery {
  /** The recipient's locale, else the notification request's (raw addresses); null: the tenant default. */
  locale: string | null;
  /** The recipient's time zone, else the tenant's (as quiet hours use them); null: UTC. */
  timezone: string | null;
}

/** The columns `toDelivery` reads, listed so that a statement reading them can be named (db/prepared.ts). */
const DELIVERY_ROW = `d.id, d.notification_id, d.event, d.recipient_key, d.external_id, d.recipient_name, d.channel,
       d.level, d.not_before, d.failover_from, d.address, d.status, d.attempts, d.provider_message_id,
       d.provider_status, d.error, d.created_at, d.updated_at, d.sent_at`;

/** Open deliveries with what their renders need of the person: locale and time zone. */
export const OPEN_DELIVERY_SELECT = `SELECT ${DELIVERY_ROW}, COALESCE(r.locale, n.request->>'locale') AS locale,
            COALESCE(r.timezone, t.timezone) AS timezone
       FROM deliveries d
       JOIN notifications n ON n.id = d.notification_id
       LEFT JOIN tenants t ON t.id = d.tenant_id
       LEFT JOIN recipients r ON r.tenant_id = d.tenant_id AND r.external_id = d.external_id`;

export type OpenDeliveryRow = DeliveryRow & { locale: string | null; timezone: string | null };

export const toOpenDelivery = (row: OpenDeliveryRow): OpenDelivery => ({
  ...toDelivery(row),
  locale: row.locale,
  timezone: row.timezone,
});

/** The rows of a range a send attempt still has to handle, by id (read only: each is claimed just before its send). */
export async function openDeliveriesInRange(
  db: Queryable,
  notificationId: string,
  channel: string,
  range: { fromId: string; toId: string; level?: number; notBefore?: string | null },
): Promise<OpenDelivery[]> {
  const result = await db.query<OpenDeliveryRow>(
    `${OPEN_DELIVERY_SELECT}
      WHERE d.notification_id = $1 AND d.channel = $2 AND d.id BETWEEN $3 AND $4 AND d.status = ANY($5::text[])
        -- Only the range's own level and quiet-hours group: ids of other groups interleave with its own.
        AND ($6::int IS NULL OR d.level = $6)
        AND ($7::boolean IS NOT TRUE OR d.not_before IS NOT DISTINCT FROM $8::timestamptz)
      ORDER BY d.id`,
    [
      notificationId,
      channel,
      range.fromId,
      range.toId,
      OPEN_STATUSES,
      range.level ?? null,
      range.notBefore !== undefined,
      range.notBefore ?? null,
    ],
  );
  return result.rows.map(toOpenDelivery);
}

/**
 * Claims a chunk of deliveries right before their sends: each becomes `sending` and counts one more
 * attempt, but only while still open, so a row cancel has already ended is never sent. `sending`
 * stays claimable: that is a row whose attempt died with its worker, and the retry resends it.
 * Returns the ids claimed.
 */
export async function claimDeliveries(db: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const result = await db.query<{ id: string }>(
    prepared(`UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = now()
      WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[]) RETURNING id`),
    [ids, OPEN_STATUSES],
  );
  return new Set(result.rows.map((r) => String(r.id)));
}

/**
 * Sends the provider accepted, in one statement. Unconditional: a message that went out was sent,
 * even if cancel ended the row as skipped while it was on the wire, and the log must say what people
 * received.
 */
export async function markDeliveriesSent(
  db: Queryable,
  sent: { id: string; providerMessageId: string }[],
  options: { earlyCallbacks: boolean } = { earlyCallbacks: true },
): Promise<void> {
  if (sent.length === 0) return;
  await db.query(
    prepared(`UPDATE deliveries d SET status = 'sent', provider_message_id = u.pmid, error = NULL, sent_at = now(), updated_at = now()
       FROM unnest($1::bigint[], $2::text[]) AS u(id, pmid) WHERE d.id = u.id`),
    [sent.map((s) => s.id), sent.map((s) => s.providerMessageId)],
  );
  if (!options.earlyCallbacks) return;
  // Provider callbacks that overtook the send's answer (Twilio) are rare: look for them in one query.
  const early = await db.query<{ provider_message_id: string }>(
    prepared(
      `SELECT DISTINCT provider_message_id FROM pending_provider_statuses WHERE provider_message_id = ANY($1::text[])`,
    ),
    [sent.map((s) => s.providerMessageId)],
  );
  for (const row of early.rows) await applyPendingProviderStatuses(db, row.provider_message_id);
}

export async function markDeliveryUnsent(
  db: Queryable,
  id: string,
  status: Extract<DeliveryStatus, 'failed' | 'retrying' | 'skipped'>,
  error: string,
): Promise<void> {
  await db.query(
    // Only the attempt's own claim: a row that cancel ended as skipped meanwhile stays skipped.
    `UPDATE deliveries SET status = $2, error = $3, updated_at = now() WHERE id = $1 AND status = 'sending'`,
    [id, status, error],
  );
}

/**
 * Ends the still-open deliveries of a notification as skipped (it was cancelled); returns how many.
 * `statuses` narrows it, e.g. to the rows no send has claimed yet.
 */
export async function skipOpenDeliveries(
  db: Queryable,
  notificationId: string,
  reason: string,
  statuses: DeliveryStatus[] = OPEN_STATUSES,
): Promise<number> {
  const result = await db.query(
    `UPDATE deliveries SET status = 'skipped', error = $2, updated_at = now()
      WHERE notification_id = $1 AND status = ANY($3::text[])`,
    [notificationId, reason, statuses],
  );
  return result.rowCount ?? 0;
}

/** Ends every still-open row of a range as failed (retries exhausted); returns how many. */
export async function failOpenDeliveries(
  db: Queryable,
  notificationId: string,
  range: { channel: ChannelName; fromId: string; toId: string },
  reason: string,
): Promise<number> {
  const result = await db.query(
    `UPDATE deliveries SET status = 'failed', error = COALESCE(error, $4) || CASE WHEN error IS NULL THEN '' ELSE ' (' || $4 || ')' END,
            updated_at = now()
      WHERE notification_id = $1 AND channel = $6 AND id BETWEEN $2 AND $3 AND status = ANY($5::text[])`,
    [notificationId, range.fromId, range.toId, reason, OPEN_STATUSES, range.channel],
  );
  return result.rowCount ?? 0;
}

export async function countDeliveriesByStatus(
  db: Queryable,
  notificationId: string,
): Promise<Partial<Record<DeliveryStatus, number>>> {
  const result = await db.query<{ status: DeliveryStatus; n: string }>(
    prepared('SELECT status, count(*) AS n FROM deliveries WHERE notification_id = $1 GROUP BY status'),
    [notificationId],
  );
  return Object.fromEntries(result.rows.map((r) => [r.status, Number(r.n)]));
}

export async function listDeliveriesOfNotification(
  db: Queryable,
  notificationId: string,
  limit = 1000,
): Promise<Delivery[]> {
  const result = await db.query<DeliveryRow>(
    'SELECT * FROM deliveries WHERE notification_id = $1 ORDER BY id LIMIT $2',
    [notificationId, limit],
  );
  return result.rows.map(toDelivery);
}

export interface DeliveryFilter {
  event?: string;
  status?: string;
  recipient?: string;
  notificationId?: string;
  channel?: string;
  since?: Date;
  until?: Date;
}

/** The delivery log, newest first, keyset-paginated on id. */
export async function listDeliveries(
  db: Queryable,
  tenantId: string,
  filter: DeliveryFilter,
  page: { limit: number; beforeId?: string },
): Promise<Delivery[]> {
  const result = await db.query<DeliveryRow>(
    `SELECT * FROM deliveries
      WHERE tenant_id = $1
        AND ($2::text IS NULL OR event = $2)
        AND ($3::text IS NULL OR status = $3)
        AND ($4::text IS NULL OR recipient_key = $4 OR lower(address) = lower($4))
        AND ($5::uuid IS NULL OR notification_id = $5)
        AND ($6::text IS NULL OR channel = $6)
        AND ($7::timestamptz IS NULL OR created_at >= $7)
        AND ($8::timestamptz IS NULL OR created_at < $8)
        AND ($9::bigint IS NULL OR id < $9)
      ORDER BY id DESC LIMIT $10`,
    [
      tenantId,
      filter.event ?? null,
      filter.status ?? null,
      filter.recipient ?? null,
      filter.notificationId ?? null,
      filter.channel ?? null,
      filter.since ?? null,
      filter.until ?? null,
      page.beforeId ?? null,
      page.limit,
    ],
  );
  return result.rows.map(toDelivery);
}

// For the other query files over this table (db/queries/delivery-pages.ts): one row mapping.
export { toDelivery, type DeliveryRow };
