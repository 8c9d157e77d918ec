import { createHash, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { withTransaction } from '../db/pool';
import { announceInboxMessage, insertInboxMessage } from '../db/queries/inbox';
import { localParts } from '../common/quiet-hours';
import {
  claimDigestItems,
  digestRecipientsPage,
  markDigestItemsSent,
  recordDigestSent,
  type DigestCursor,
  type DigestItem,
  type DigestRecipient,
} from '../db/queries/digests';
import type { RenderedEmail, TemplateRegistry } from '../templates/registry';
import { resolveBrand } from '../common/settings/brand';
import { getTenantSetting } from '../db/queries/tenant-settings';
import type { ActivityDeps } from './notifications';

/** The template a digest is rendered with (templates/digest/). */
export const DIGEST_EVENT = 'digest';
/** Lines listed per event; the rest are counted ("and N more"). */
export const DIGEST_LINES_PER_EVENT = 20;
const DEFAULT_HOUR = 8;
const DEFAULT_WEEKDAY = 1; // Monday

export interface DigestSettings {
  events?: unknown;
  frequency?: 'hourly' | 'daily' | 'weekly';
  hour?: number;
  weekday?: number;
}

/**
 * Whether a recipient's digest is due at `now`, in their own zone (UTC when they have none): hourly
 * always; daily when the local hour is `hour` (default 8); weekly when the local weekday (0 = Sunday)
 * is `weekday` (default 1) and the local hour is `hour`; and in every case only when no digest went
 * out in the current period (`lastSentAt` before its start), since a schedule runs several times an
 * hour. Deterministic (usable in workflows too).
 */
export function isDigestDue(
  digest: unknown,
  timezone: string | null,
  now: number,
  lastSentAt: number | null = null,
): boolean {
  if (!digest || typeof digest !== 'object') return false;
  if (lastSentAt !== null && lastSentAt >= digestPeriodStart(timezone, now)) return false;
  const settings = digest as DigestSettings;
  const frequency = settings.frequency ?? 'daily';
  if (frequency === 'hourly') return true;
  const local = localPartsOrUtc(now, timezone);
  const hour = typeof settings.hour === 'number' ? settings.hour : DEFAULT_HOUR;
  if (local.hour !== hour) return false;
  if (frequency === 'daily') return true;
  const weekday = typeof settings.weekday === 'number' ? settings.weekday : DEFAULT_WEEKDAY;
  return new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay() === weekday;
}

/**
 * The start of the local hour containing `now`: a digest period (an hourly digest's hour, or the
 * due hour of a daily or weekly one). Local, because zones such as Asia/Kolkata are offset by 30 min.
 */
export function digestPeriodStart(timezone: string | null, now: number): number {
  const local = localPartsOrUtc(now, timezone);
  return now - ((local.minute * 60 + local.second) * 1000 + (((now % 1000) + 1000) % 1000));
}

function localPartsOrUtc(now: number, timezone: string | null) {
  try {
    return localParts(now, timezone || 'UTC');
  } catch {
    return localParts(now, 'UTC'); // an unknown zone: the digest still goes out, on UTC
  }
}

export interface DigestGroup {
  event: string;
  count: number;
  lines: string[];
  more: number;
}

/** One line per notification (an item per channel of one notification is listed once), grouped by event. */
export function groupDigestItems(items: DigestItem[]): DigestGroup[] {
  const seen = new Set<string>();
  const groups = new Map<string, { event: string; lines: string[] }>();
  for (const item of items) {
    if (seen.has(item.notificationId)) continue;
    seen.add(item.notificationId);
    let group = groups.get(item.event);
    if (!group) groups.set(item.event, (group = { event: item.event, lines: [] }));
    group.lines.push(itemLine(item.data));
  }
  return [...groups.values()].map(({ event, lines }) => ({
    event,
    count: lines.length,
    lines: lines.slice(0, DIGEST_LINES_PER_EVENT),
    more: Math.max(0, lines.length - DIGEST_LINES_PER_EVENT),
  }));
}

/** A notification's data as one short line: its plain values, `#id` first when it has an id. */
export function itemLine(data: Record<string, unknown>): string {
  const values = Object.entries(data)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .filter(([k]) => !/url$/i.test(k))
    .map(([k, v]) => (/id$/i.test(k) ? `#${String(v)}` : String(v)));
  const line = values.join(' — ').replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line || '(no details)';
}

/** The id a digest stands under (its Message-ID): recipient × item ids, so a re-send is recognisable. */
export function digestId(tenantId: string, externalId: string, itemIds: string[]): string {
  const hash = createHash('sha256')
    .update(`${tenantId}\u0000${externalId}\u0000${itemIds.join(',')}`)
    .digest('hex')
    .slice(0, 32);
  return `digest-${hash}`;
}

export interface SendDueDigestsInput {
  /** Items created after this instant wait for the next run. */
  cutoff: string;
  /** The instant the due rule is applied at. */
  now: string;
  after: DigestCursor | null;
  pageSize: number;
  tenantId?: string;
}

export interface SendDueDigestsResult {
  /** The cursor of the next page; null when this was the last. */
  next: DigestCursor | null;
  sent: { tenantId: string; externalId: string; items: number; channel: 'email' | 'inapp' }[];
  /** Recipients whose digest could not go out; their items stay for the next run. */
  failed: { tenantId: string; externalId: string; reason: string }[];
}

/** A tenant's catalogue and brand, as its digests are rendered with them. */
interface TenantView {
  templates: TemplateRegistry;
  brand: ReturnType<typeof resolveBrand>;
}

export function createDigestActivities(deps: ActivityDeps) {
  const { db, templates, channels, brandName } = deps;

  /**
   * Claims, sends and marks one due recipient's digest; the items stay unsent when anything fails.
   * By email when the recipient has an address, else into their in-app inbox (in the same
   * transaction as the claim, so exactly once).
   */
  async function sendOne(
    recipient: DigestRecipient,
    input: SendDueDigestsInput,
    tenantView: (tenantId: string) => Promise<TenantView>,
  ): Promise<{ items: number; channel: 'email' | 'inapp' } | { error: string } | null> {
    const email = recipient.email;
    const now = Date.parse(input.now);
    return withTransaction(db, async (client) => {
      const items = await claimDigestItems(client, { ...recipient, cutoff: input.cutoff });
      if (items.length === 0) return null;
      // Another run of this period sent it first (the row lock orders them): nothing more this period.
      const first = await recordDigestSent(client, {
        tenantId: recipient.tenantId,
        externalId: recipient.externalId,
        periodStart: new Date(digestPeriodStart(recipient.timezone, now)).toISOString(),
        sentAt: input.now,
      });
      if (!first) return null;
      const ids = items.map((i) => i.id);
      const id = digestId(recipient.tenantId, recipient.externalId, ids);
      const groups = groupDigestItems(items);
      const count = groups.reduce((n, g) => n + g.count, 0);
      // The tenant's own digest variants and brand, as for its notifications.
      const { templates: tenantTemplates, brand } = await tenantView(recipient.tenantId);
      const context = {
        data: {
          count,
          eventsSummary: groups.map((g) => `${g.event} (${g.count})`).join(', '),
          groups,
        },
        recipient: {
          name: recipient.name,
          email,
          externalId: recipient.externalId,
          locale: brand.defaultLocale,
          timezone: recipient.timezone,
        },
        brand,
        notification: { id, event: DIGEST_EVENT, priority: 'normal' },
      };
      if (!email) {
        let card;
        try {
          card = tenantTemplates.renderInapp(DIGEST_EVENT, context);
        } catch (error) {
          return { error: `render: ${error instanceof Error ? error.message : String(error)}` };
        }
        const message = await insertInboxMessage(client, {
          id: randomUUID(),
          tenantId: recipient.tenantId,
          externalId: recipient.externalId,
          notificationId: null,
          event: DIGEST_EVENT,
          title: card.title,
          body: card.body,
          url: card.url,
        });
        await announceInboxMessage(client, {
          tenantId: recipient.tenantId,
          externalId: recipient.externalId,
          id: message.id,
        });
        await markDigestItemsSent(client, ids);
        return { items: items.length, channel: 'inapp' };
      }
      let content: RenderedEmail;
      try {
        content = channels.email.render(tenantTemplates, DIGEST_EVENT, context) as RenderedEmail;
      } catch (error) {
        // One recipient's broken data must not hold up the run; the items wait for the next one.
        return { error: `render: ${error instanceof Error ? error.message : String(error)}` };
      }
      try {
        await channels.email.send(
          {
            deliveryId: id,
            notificationId: id,
            tenantId: recipient.tenantId,
            event: DIGEST_EVENT,
            priority: 'normal',
            channel: 'email',
            recipientKey: recipient.externalId,
            externalId: recipient.externalId,
            address: email,
            recipientName: recipient.name,
            data: {},
          },
          content,
        );
      } catch (error) {
        const failure = channels.email.classify(error);
        // A transient failure retries the activity (this transaction rolls back: nothing is marked).
        if (failure.kind === 'transient') throw error;
        return { error: `${failure.kind}: ${failure.reason}` };
      }
      await markDigestItemsSent(client, ids);
      return { items: items.length, channel: 'email' };
    });
  }

  /**
   * One page of recipients with unsent items created at or before the cutoff: each one whose digest
   * is due at `now` gets one digest email listing exactly the items it claimed, then those are marked
   * sent in the same transaction.
   */
  async function sendDueDigests(input: SendDueDigestsInput): Promise<SendDueDigestsResult> {
    const now = Date.parse(input.now);
    const page = await digestRecipientsPage(db, {
      cutoff: input.cutoff,
      after: input.after,
      limit: input.pageSize,
      tenantId: input.tenantId,
    });
    const result: SendDueDigestsResult = { next: null, sent: [], failed: [] };
    // Read once per tenant of the page, not once per recipient.
    const views = new Map<string, Promise<TenantView>>();
    const tenantView = (tenantId: string): Promise<TenantView> => {
      let view = views.get(tenantId);
      if (!view) {
        view = (async () => ({
          templates: await templates.forTenant(db, tenantId),
          brand: resolveBrand((await getTenantSetting(db, tenantId, 'brand'))?.config, brandName),
        }))();
        views.set(tenantId, view);
      }
      return view;
    };
    for (const recipient of page) {
      heartbeat(recipient);
      const lastSentAt = recipient.lastSentAt ? Date.parse(recipient.lastSentAt) : null;
      if (!isDigestDue(recipient.digest, recipient.timezone, now, lastSentAt)) continue;
      const outcome = await sendOne(recipient, input, tenantView);
      if (!outcome) continue;
      const key = { tenantId: recipient.tenantId, externalId: recipient.externalId };
      if ('error' in outcome) result.failed.push({ ...key, reason: outcome.error });
      else result.sent.push({ ...key, items: outcome.items, channel: outcome.channel });
    }
    const last = page.at(-1);
    if (page.length === input.pageSize && last)
      result.next = { tenantId: last.tenantId, externalId: last.externalId };
    return result;
  }

  return { sendDueDigests };
}

function heartbeat(recipient: DigestRecipient): void {
  try {
    Context.current().heartbeat(recipient.externalId);
  } catch {
    // not inside an activity (a direct call)
  }
}
