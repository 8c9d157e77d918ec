/**
 * "Why wasn't X told?": one person's whole story for one notification — how they were resolved or
 * why not (explain-resolution.ts), each channel's decision and attempts (explain-channels.ts), the
 * escalation levels and the acknowledgement — and the list of notifications that reached or targeted
 * them. Reads only the database; the acknowledgement, which only the workflow knows, comes from the
 * caller (the API asks Temporal, the CLI may not reach it).
 */
import type { Acknowledgement, Audience, EscalationLevel, NotificationRequest } from '../../common/types';
import {
  deliveriesOfPerson,
  levelsWithRows,
  membershipsOf,
  notificationsOfPerson,
  rowWithAddress,
  type ExplainedDelivery,
  type Membership,
} from '../../db/queries/explain';
import { getNotification, type NotificationRecord } from '../../db/queries/notifications';
import { getRecipient, type Queryable, type Recipient } from '../../db/queries/recipients';
import { notFound } from '../errors';
import { channelStory, mergedStory, outcomeOf, type ChannelStory, type Outcome } from './explain-channels';
import {
  identifySubject,
  rawKeysOf,
  resolveAddressAtLevel,
  resolvePersonAtLevel,
  unknownResolution,
  type LevelResolution,
  type Subject,
} from './explain-resolution';
import { decodeCursor, encodeCursor, isTimeIdCursor } from './notifications';
import { explainStory } from './explain-story';

/** The acknowledgement as far as it can be known: null for none, 'unknown' when the workflow cannot be asked. */
export type AckLookup = (record: NotificationRecord) => Promise<Acknowledgement | null | 'unknown'>;

export interface EscalationStory {
  repeat: number;
  /** The levels as the request defines them (one pass, in firing order). */
  levels: { afterSeconds: number; channels: string[] | null; ownAudience: boolean }[];
  /** The levels (1…, counting repeats) that have fired so far. */
  fired: number[];
  /** The fired levels that reached this person. */
  reachedAt: number[];
}

export interface Explanation {
  notification: {
    id: string;
    event: string;
    priority: string;
    status: string;
    createdAt: string;
    completedAt: string | null;
  };
  recipient: {
    query: string;
    kind: Subject['kind'];
    externalId: string | null;
    name: string | null;
    /** The raw address asked about (kind `address`), or how a person was found (`matchedBy`). */
    address: string | null;
    matchedBy: 'externalId' | 'address' | null;
  };
  outcome: Outcome;
  resolution: LevelResolution[];
  channels: ChannelStory[];
  escalation: EscalationStory | null;
  acknowledgement: {
    state: 'acknowledged' | 'not_acknowledged' | 'unknown';
    by: string | null;
    at: string | null;
  };
  /** The same story in sentences, as `herald explain` prints it. */
  story: string[];
}

/** Channels whose address two people (or a person and a raw address) can share, and so merge. */
const SHARED_ADDRESS_CHANNELS = ['email', 'sms', 'whatsapp'] as const;

function addressOn(recipient: Recipient, channel: (typeof SHARED_ADDRESS_CHANNELS)[number]): string | null {
  if (channel === 'email') return recipient.email?.toLowerCase() ?? null;
  return (channel === 'sms' ? recipient.phone : recipient.whatsapp) ?? null;
}

/** Escalation levels in firing order (as workflows/escalation-levels.ts expands them, one pass). */
const firingOrder = (levels: EscalationLevel[]) =>
  [...levels].sort((a, b) => a.afterSeconds - b.afterSeconds);

/** The audience of a level: the notification's own, or an escalation level's when it names one. */
function audienceOf(request: NotificationRequest, level: number): { to: Audience; own: boolean } {
  const levels = firingOrder(request.escalation?.levels ?? []);
  const def = level > 0 && levels.length > 0 ? levels[(level - 1) % levels.length] : undefined;
  if (def && (def.recipients || def.groups))
    return { to: { recipients: def.recipients, groups: def.groups }, own: true };
  return { to: request.to, own: false };
}

/** The person's own rows, plus the channels a shared address stood in for them. */
async function channelsOf(
  db: Queryable,
  record: NotificationRecord,
  subject: Subject,
  rows: ExplainedDelivery[],
  resolution: LevelResolution[],
): Promise<{ channels: ChannelStory[]; merges: Map<number, ChannelStory[]> }> {
  const now = Date.now();
  const channels = rows.map((row) => channelStory(row, now));
  const merges = new Map<number, ChannelStory[]>();
  for (const level of resolution) {
    if (level.via.length === 0) continue;
    const found: ChannelStory[] = [];
    const has = (channel: string) => rows.some((r) => r.level === level.level && r.channel === channel);
    if (subject.kind === 'person') {
      for (const channel of SHARED_ADDRESS_CHANNELS) {
        const address = addressOn(subject.recipient, channel);
        if (!address || has(channel)) continue;
        const into = await rowWithAddress(db, record.id, {
          level: level.level,
          channel,
          address,
          notKey: subject.recipient.externalId,
        });
        if (into) found.push(mergedStory(channel, address, into));
      }
    } else if (subject.kind === 'address') {
      const channel = subject.address.includes('@') ? 'email' : 'sms';
      if (!has(channel)) {
        const into = await rowWithAddress(db, record.id, {
          level: level.level,
          channel,
          address: subject.address,
          notKey: rawKeysOf(subject)[0]!,
        });
        if (into) found.push(mergedStory(channel, subject.address, into));
      }
    }
    if (found.length > 0) merges.set(level.level, found);
    channels.push(...found);
  }
  return { channels, merges };
}

/** Adds the merge reasons to the levels where a shared address stood for the person. */
function noteMerges(resolution: LevelResolution[], merges: Map<number, ChannelStory[]>): void {
  for (const level of resolution) {
    for (const merged of merges.get(level.level) ?? []) {
      level.reasons.push({
        code: 'address_merged',
        message: `${merged.channel} address ${merged.address} merged with ${merged.mergedWith}: one message per address`,
        group: null,
        with: merged.mergedWith,
      });
    }
  }
}

async function resolutionOf(
  db: Queryable,
  record: NotificationRecord,
  subject: Subject,
  rows: ExplainedDelivery[],
  memberships: Membership[],
): Promise<LevelResolution[]> {
  if (subject.kind === 'unknown') return [unknownResolution(subject.query)];
  const fired = (await levelsWithRows(db, record.id)).filter((l) => l > 0);
  const levels = [
    0,
    ...fired.filter((l) => audienceOf(record.request, l).own || rows.some((r) => r.level === l)),
  ];
  return levels.map((level) => {
    const own = rows.filter((r) => r.level === level);
    const to = audienceOf(record.request, level).to;
    if (subject.kind === 'address') return resolveAddressAtLevel(level, to, subject, own.length > 0);
    const resolvedAt = own.reduce(
      (t, r) => (r.createdAt < t ? r.createdAt : t),
      own[0]?.createdAt ?? record.createdAt,
    );
    return resolvePersonAtLevel(level, to, subject.recipient, memberships, {
      createdAt: record.createdAt,
      resolvedAt,
      hasRows: own.length > 0,
    });
  });
}

async function escalationOf(
  db: Queryable,
  record: NotificationRecord,
  rows: ExplainedDelivery[],
): Promise<EscalationStory | null> {
  const policy = record.request.escalation;
  if (!policy || policy.levels.length === 0) return null;
  const fired = (await levelsWithRows(db, record.id)).filter((l) => l > 0);
  return {
    repeat: policy.repeat ?? 0,
    levels: firingOrder(policy.levels).map((l) => ({
      afterSeconds: l.afterSeconds,
      channels: l.channels ?? null,
      ownAudience: Boolean(l.recipients || l.groups),
    })),
    fired,
    reachedAt: [...new Set(rows.filter((r) => r.level > 0).map((r) => r.level))],
  };
}

/** The story of `query` (an external id or an address) for notification `id`; 404 for an unknown notification. */
export async function explainNotification(
  db: Queryable,
  tenantId: string,
  id: string,
  query: string,
  acknowledgement: AckLookup,
): Promise<Explanation> {
  const record = await getNotification(db, tenantId, id);
  if (!record) throw notFound(`notification ${id}`);
  const subject = await identifySubject(db, tenantId, query);
  const rows =
    subject.kind === 'unknown'
      ? []
      : await deliveriesOfPerson(db, record.id, {
          externalId: subject.kind === 'person' ? subject.recipient.externalId : null,
          rawKeys: rawKeysOf(subject),
        });
  const memberships =
    subject.kind === 'person' ? await membershipsOf(db, tenantId, subject.recipient.externalId) : [];
  const resolution = await resolutionOf(db, record, subject, rows, memberships);
  const { channels, merges } = await channelsOf(db, record, subject, rows, resolution);
  noteMerges(resolution, merges);
  const ack = record.request.escalation ? await acknowledgement(record) : null;
  const explanation: Omit<Explanation, 'story'> = {
    notification: {
      id: record.id,
      event: record.event,
      priority: record.priority,
      status: record.status,
      createdAt: record.createdAt,
      completedAt: record.completedAt,
    },
    recipient: {
      query,
      kind: subject.kind,
      externalId: subject.kind === 'person' ? subject.recipient.externalId : null,
      name: subject.kind === 'person' ? subject.recipient.name : null,
      address: subject.kind === 'address' ? subject.address : null,
      matchedBy: subject.kind === 'person' ? subject.matchedBy : null,
    },
    outcome: outcomeOf(channels),
    resolution,
    channels,
    escalation: await escalationOf(db, record, rows),
    acknowledgement:
      ack === 'unknown'
        ? { state: 'unknown', by: null, at: null }
        : ack
          ? { state: 'acknowledged', by: ack.by, at: ack.at }
          : { state: 'not_acknowledged', by: null, at: null },
  };
  return { ...explanation, story: explainStory(explanation, Boolean(record.request.escalation)) };
}

export interface RecipientNotification {
  id: string;
  event: string;
  priority: string;
  status: string;
  createdAt: string;
  outcome: Outcome;
  /** For a notification that targeted them but has no row of theirs: why (the explain route says more). */
  reason: string | null;
  deliveries: { channel: string; level: number; status: string; reason: string | null }[];
  links: { explain: string };
}

/** Why a notification that targeted the person has no row of theirs, in one sentence. */
function notResolvedReason(
  row: { audience: Audience; createdAt: string },
  recipient: Recipient,
  memberships: Membership[],
) {
  const level0 = resolvePersonAtLevel(0, row.audience, recipient, memberships, {
    createdAt: row.createdAt,
    resolvedAt: row.createdAt,
    hasRows: false,
  });
  if (level0.via.length > 0) return 'in the audience, but has no delivery of their own (a shared address?)';
  if (level0.reasons.some((r) => r.code === 'joined_after_send'))
    return level0.reasons.find((r) => r.code === 'joined_after_send')!.message;
  return 'named only by an escalation level that has not fired';
}

/** `GET /v1/recipients/{externalId}/notifications`: newest first; 404 for an unknown recipient. */
export async function listRecipientNotifications(
  db: Queryable,
  tenantId: string,
  externalId: string,
  page: { limit: number; cursor?: string },
): Promise<{ items: RecipientNotification[]; nextCursor: string | null }> {
  const recipient = await getRecipient(db, tenantId, externalId);
  if (!recipient) throw notFound(`recipient ${externalId}`);
  const before = page.cursor ? decodeCursor(page.cursor, isTimeIdCursor) : undefined;
  const memberships = await membershipsOf(db, tenantId, externalId);
  const rows = await notificationsOfPerson(db, {
    tenantId,
    externalId,
    groupRefs: [...new Set(memberships.flatMap((m) => [m.groupKey, m.groupName]))],
    addresses: [recipient.email?.toLowerCase(), recipient.phone, recipient.whatsapp].filter(
      (a): a is string => Boolean(a),
    ),
    before: before ? { position: before.t, id: before.id } : null,
    limit: page.limit + 1,
  });
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    items: shown.map((row) => {
      const outcome = outcomeOf(row.deliveries);
      return {
        id: row.id,
        event: row.event,
        priority: row.priority,
        status: row.status,
        createdAt: row.createdAt,
        outcome,
        reason: row.deliveries.length === 0 ? notResolvedReason(row, recipient, memberships) : null,
        deliveries: row.deliveries.map((d) => ({
          channel: d.channel,
          level: d.level,
          status: d.status,
          reason: d.error,
        })),
        links: {
          explain: `/v1/notifications/${row.id}/explain?recipient=${encodeURIComponent(externalId)}`,
        },
      };
    }),
    nextCursor: rows.length > page.limit && last ? encodeCursor({ t: last.position, id: last.id }) : null,
  };
}
