import type { TemplateRegistry } from '../../templates/registry';
import { CHANNELS, type Audience, type ChannelName, type NotificationRequest } from '../../common/types';
import { withTransaction } from '../../db/pool';
import type { Queryable } from '../../db/queries/recipients';
import {
  countReachablePeople,
  countTenantWebhooks,
  reachablePeopleOf,
  releaseSends,
  reserveSends,
  type ChannelReservation,
  type ReachablePeople,
  type RecipientReach,
} from '../../db/queries/send-usage';
import { getTenantDailyQuotas } from '../../db/queries/tenants';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { HttpError, type ErrorDetail } from '../errors';

export type SendsByChannel = Partial<Record<ChannelName, number>>;

/** The most a notification may send, counted at acceptance (before preferences, digests and acks). */
export interface SendEstimate {
  total: number;
  byChannel: SendsByChannel;
  /** Where the sends come from: `to`, then each escalation level for one pass. */
  parts: { path: string; sends: number; channels: ChannelName[] }[];
  /** How often the escalation levels run: 1 + `repeat`. */
  passes: number;
}

/** What the count reads of a request (a deadline has no channels or escalation of its own). */
export type CountableRequest = Pick<NotificationRequest, 'event' | 'to'> &
  Partial<Pick<NotificationRequest, 'channels' | 'escalation'>>;

/** Sends reserved against the daily quotas, to give back if the notification is not started. */
export interface QuotaReservation {
  day: string;
  sends: SendsByChannel;
}

/**
 * Reads the count can take from the caller instead of the database: the API reads them for a
 * request once, with the reference checks (api/services/notifications.ts `directLookups`).
 */
export interface SendCountLookups {
  tenantWebhooks?(): Promise<number>;
  /** The existing recipients among `ids` and their channels: an audience without groups is counted from it. */
  recipientReach?(ids: string[]): Promise<Map<string, RecipientReach>>;
}

interface AudienceSize {
  people: ReachablePeople;
  emails: number;
  phones: number;
}

/**
 * Counts what a notification may send: for `to` and for each escalation level (its own audience or
 * the notification's, its own channels or the notification's), the people reachable on each channel
 * plus the raw addresses, and the levels once per pass (1 + repeat). The same rows
 * `insertDeliveries` would open, so it is an upper bound of the sends.
 */
export async function estimateSends(
  deps: ApiDeps,
  tenantId: string,
  request: CountableRequest,
  tenantTemplates?: TemplateRegistry,
  lookups: SendCountLookups = {},
): Promise<SendEstimate> {
  // The tenant's catalogue (its own events count as the worker will send them), unless the caller has it.
  const templates = tenantTemplates ?? (await deps.templates.forTenant(deps.db, tenantId));
  const base = channelsFor(templates, request.event, request.channels);
  const levels = request.escalation?.levels ?? [];
  const passes = 1 + (request.escalation?.repeat ?? 0);
  const usesWebhook =
    base.includes('webhook') ||
    levels.some((l) => channelsFor(templates, request.event, l.channels ?? base).includes('webhook'));
  const tenantWebhooks = !usesWebhook
    ? 0
    : lookups.tenantWebhooks
      ? await lookups.tenantWebhooks()
      : await countTenantWebhooks(deps.db, tenantId);
  const countPeople = async (recipients: string[], groups: string[]): Promise<ReachablePeople> => {
    if (recipients.length + groups.length === 0) return NOBODY;
    if (groups.length === 0 && lookups.recipientReach)
      return reachablePeopleOf(await lookups.recipientReach(recipients), recipients);
    return countReachablePeople(deps.db, tenantId, recipients, groups);
  };
  const measure = async (to: Audience): Promise<AudienceSize> => ({
    people: await countPeople(to.recipients ?? [], to.groups ?? []),
    emails: new Set((to.emails ?? []).map((e) => e.toLowerCase())).size,
    phones: new Set(to.phones ?? []).size,
  });
  const audience = await measure(request.to);

  const byChannel: SendsByChannel = {};
  const add = (sends: SendsByChannel, times: number) => {
    for (const [channel, n] of Object.entries(sends) as [ChannelName, number][])
      byChannel[channel] = (byChannel[channel] ?? 0) + n * times;
  };
  const first = sendsOn(audience, tenantWebhooks, base);
  add(first, 1);
  const parts = [{ path: 'to', sends: sum(first), channels: base }];
  for (const [i, level] of levels.entries()) {
    // As the workflow does: a level without recipients or groups reaches the notification's audience.
    const own = level.recipients || level.groups;
    const size = own ? await measure({ recipients: level.recipients, groups: level.groups }) : audience;
    const channels = level.channels ? channelsFor(templates, request.event, level.channels) : base;
    const sends = sendsOn(size, tenantWebhooks, channels);
    add(sends, passes);
    parts.push({ path: `escalation.levels[${i}]`, sends: sum(sends), channels });
  }
  return { total: sum(byChannel), byChannel, parts, passes };
}

/** 422 when the notification may send more than MAX_SENDS_PER_NOTIFICATION, naming what adds up. */
export function enforceSendCap(config: ApiConfig, estimate: SendEstimate): void {
  const max = config.MAX_SENDS_PER_NOTIFICATION;
  if (estimate.total <= max) return;
  const [first, ...levels] = estimate.parts;
  const details: ErrorDetail[] = estimate.parts
    .filter((p) => p.sends > 0)
    .map((p) => ({
      path: p.path,
      message: `${p.sends} sends on ${p.channels.join(', ') || 'no channel'}${p.path === 'to' ? '' : ' per pass'}`,
    }));
  const levelSends = sum(Object.fromEntries(levels.map((l, i) => [i, l.sends])));
  if (estimate.passes > 1 && levelSends > 0)
    details.push({ path: 'escalation.repeat', message: `the levels run ${estimate.passes} times` });
  const breakdown =
    levels.length > 0 ? ` (to: ${first!.sends}, escalation: ${levelSends} × ${estimate.passes})` : '';
  throw new HttpError(
    422,
    'send_limit_exceeded',
    `this notification may cause ${estimate.total} sends${breakdown}, more than MAX_SENDS_PER_NOTIFICATION (${max})`,
    details,
  );
}

/** Counts the sends and refuses (422) a notification over the cap; nothing is written. */
export async function checkSendCap(
  deps: ApiDeps,
  tenantId: string,
  request: CountableRequest,
  tenantTemplates?: TemplateRegistry,
  lookups?: SendCountLookups,
): Promise<SendEstimate> {
  const estimate = await estimateSends(deps, tenantId, request, tenantTemplates, lookups);
  enforceSendCap(deps.config, estimate);
  return estimate;
}

/** The tenant's daily quota per channel: its own where set, else DAILY_QUOTA_<CHANNEL>; absent: none. */
export function dailyQuotas(config: ApiConfig, own: Record<string, unknown>): SendsByChannel {
  const defaults = config as unknown as Record<string, number | undefined>;
  const quotas: SendsByChannel = {};
  for (const channel of CHANNELS) {
    const value = own[channel];
    const quota = typeof value === 'number' ? value : defaults[`DAILY_QUOTA_${channel.toUpperCase()}`];
    if (quota !== undefined) quotas[channel] = quota;
  }
  return quotas;
}

/** 429 for a notification that would pass a daily quota; `Retry-After` is the next UTC midnight. */
export class QuotaExceededError extends HttpError {
  constructor(
    refused: { channel: ChannelName; used: number; limit: number; sends: number }[],
    retryAfterSeconds: number,
  ) {
    super(
      429,
      'quota_exceeded',
      refused
        .map(
          (r) =>
            `daily ${r.channel} quota exceeded: ${r.used} of ${r.limit} used today (UTC), this notification may send ${r.sends}`,
        )
        .join('; '),
      refused.map((r) => ({
        path: `quota.${r.channel}`,
        message: `${r.used} of ${r.limit} ${r.channel} sends used today (UTC); this notification may send ${r.sends}`,
      })),
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

/**
 * Records a notification and reserves its sends on every channel with a daily quota, in one
 * transaction: all channels or none, and no row when a quota is passed (429). `insert` answers
 * `inserted: false` for an idempotent replay, which reserves nothing (the first request did).
 */
export async function insertWithinDailyQuotas<T extends { inserted: boolean }>(
  deps: ApiDeps,
  tenantId: string,
  estimate: SendEstimate,
  insert: (db: Queryable) => Promise<T>,
  /** The tenant's own quotas when the caller has read them (db/queries/send-context.ts). */
  ownQuotas?: Record<string, number>,
): Promise<T & { reservation: QuotaReservation | null }> {
  const quotas = dailyQuotas(deps.config, ownQuotas ?? (await getTenantDailyQuotas(deps.db, tenantId)));
  // In CHANNELS order, so concurrent reservations lock the counter rows in one order (no deadlock).
  const metered = CHANNELS.filter((c) => quotas[c] !== undefined && (estimate.byChannel[c] ?? 0) > 0);
  if (metered.length === 0) return { ...(await insert(deps.db)), reservation: null };
  return withTransaction(deps.db, async (client) => {
    const result = await insert(client);
    if (!result.inserted) return { ...result, reservation: null };
    const outcomes: ChannelReservation[] = [];
    for (const channel of metered)
      outcomes.push(
        await reserveSends(client, tenantId, channel, estimate.byChannel[channel]!, quotas[channel]!),
      );
    const refused = outcomes.filter((o) => !o.ok);
    if (refused.length > 0) {
      throw new QuotaExceededError(
        refused.map((o) => ({
          channel: o.channel,
          used: o.used,
          limit: quotas[o.channel]!,
          sends: estimate.byChannel[o.channel]!,
        })),
        secondsToUtcMidnight(),
      );
    }
    const sends = Object.fromEntries(metered.map((c) => [c, estimate.byChannel[c]!]));
    return { ...result, reservation: { day: outcomes[0]!.day, sends } };
  });
}

/** Gives the sends of a notification that was not started back to the day they were reserved on. */
export async function releaseDailyQuotas(
  deps: ApiDeps,
  tenantId: string,
  reservation: QuotaReservation | null,
): Promise<void> {
  if (reservation) await releaseSends(deps.db, tenantId, reservation.day, reservation.sends);
}

const NOBODY: ReachablePeople = {
  people: 0,
  reachable: { email: 0, sms: 0, whatsapp: 0, push: 0, inapp: 0, webhook: 0 },
};

/** The channels a notification uses, as the worker picks them (`selectChannels`): supported ones only. */
function channelsFor(
  templates: TemplateRegistry,
  event: string,
  wanted: ChannelName[] | undefined,
): ChannelName[] {
  const list = wanted ?? templates.manifest(event)?.defaultChannels ?? ['email'];
  return list.filter((channel) => templates.supports(event, channel));
}

/** One audience's sends per channel: its reachable people, plus raw emails on email and phones on SMS/WhatsApp. */
function sendsOn(size: AudienceSize, tenantWebhooks: number, channels: ChannelName[]): SendsByChannel {
  const { reachable } = size.people;
  const extra: Record<ChannelName, number> = {
    email: size.emails,
    sms: size.phones,
    whatsapp: size.phones,
    push: 0,
    inapp: 0,
    webhook: tenantWebhooks,
  };
  return Object.fromEntries(channels.map((c) => [c, reachable[c] + extra[c]]));
}

const sum = (values: Partial<Record<string, number>>): number =>
  Object.values(values).reduce<number>((a, n) => a + (n ?? 0), 0);

function secondsToUtcMidnight(now = Date.now()): number {
  const midnight = new Date(now);
  midnight.setUTCHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((midnight.getTime() - now) / 1000));
}
