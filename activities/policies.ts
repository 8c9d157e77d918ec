import { CATEGORY_PREFIX, resolveChannelDecision, type PreferencesDocument } from '../common/preferences';
import { FAILOVER_STANDBY, type ChannelName, type Priority } from '../common/types';
import type { FailoverChain, PolicyOutcome, PolicyRow } from '../db/queries/policies';

/** The error text that marks a delivery held back as a later link of a failover chain. */
export const STANDBY = FAILOVER_STANDBY;

/** Channels a digest replaces; the inbox and webhooks are not interruptions, so they still get each one. */
const DIGESTIBLE: ChannelName[] = ['email', 'push', 'sms', 'whatsapp'];

export interface PolicyContext {
  event: string;
  category: string | null;
  priority: Priority;
  data: Record<string, unknown>;
  /** false when the event's manifest says `unsubscribe: false`: unsubscribes and the suppression list do not apply. */
  unsubscribable: boolean;
}

/** Whether unsubscribes (and the suppression list) can stop this notification's email. */
export const unsubscribesApply = (context: PolicyContext): context is PolicyContext & { category: string } =>
  context.unsubscribable && context.priority !== 'critical' && context.category !== null;

/** The reason of a delivery the suppression list stopped. */
export const suppressionListReason = (category: string): string =>
  `unsubscribed from category ${category} (suppression list)`;

/**
 * The email addresses of a page of recipients that the suppression list must be asked about: each
 * email row's address and the recipient's email override (lowercased, as the list keeps them).
 */
export function emailAddressesToCheck(
  rows: readonly PolicyRow[],
  preferences: ReadonlyMap<string, { own: PreferencesDocument | null }>,
): string[] {
  const addresses = new Set<string>();
  for (const row of rows) {
    if (row.channel !== 'email') continue;
    if (row.address) addresses.add(row.address.toLowerCase());
    const override = preferences.get(row.externalId)?.own?.emailOverride;
    if (override) addresses.add(override.toLowerCase());
  }
  return [...addresses];
}

/**
 * One recipient's pending deliveries of a notification, decided in order: preferences (unsubscribes,
 * opt-outs, filters, email override) and the suppression list, then the digest (non-critical events
 * the recipient takes as a digest become digest items), then failover (only the first usable channel
 * of the recipient's chain goes now; the others wait as standbys). What a policy refuses ends
 * `suppressed` with the reason; `suppressedAddresses` are the page's addresses on the suppression list.
 */
export function decideForRecipient(
  rows: PolicyRow[],
  preferences: { own: PreferencesDocument | null; groups: readonly PreferencesDocument[] },
  context: PolicyContext,
  suppressedAddresses: ReadonlySet<string> = new Set(),
): PolicyOutcome[] {
  const outcomes = rows.map((row): PolicyOutcome => {
    const decision = resolveChannelDecision({
      ...preferences,
      ...context,
      channel: row.channel,
      address: row.address || null,
    });
    if (!decision.send)
      return { id: row.id, status: 'suppressed', reason: decision.reason, address: row.address };
    const address = decision.address ?? row.address;
    if (
      row.channel === 'email' &&
      unsubscribesApply(context) &&
      suppressedAddresses.has(address.toLowerCase())
    ) {
      return { id: row.id, status: 'suppressed', reason: suppressionListReason(context.category), address };
    }
    if (takesAsDigest(row, context) && DIGESTIBLE.includes(row.channel)) {
      return { id: row.id, status: 'digested', reason: 'in the next digest', address };
    }
    return { id: row.id, status: 'pending', reason: null, address };
  });
  const chain = rows[0]?.failover;
  if (!chain || chain.length === 0) return outcomes;
  const channelOf = new Map(rows.map((r) => [r.id, r.channel]));
  const inChain = outcomes
    .filter((o) => o.status === 'pending' && chain.includes(channelOf.get(o.id)!))
    .sort((a, b) => chain.indexOf(channelOf.get(a.id)!) - chain.indexOf(channelOf.get(b.id)!));
  for (const standby of inChain.slice(1)) {
    standby.status = 'skipped';
    standby.reason = `${STANDBY} (after ${channelOf.get(inChain[0]!.id)})`;
  }
  return outcomes;
}

function takesAsDigest(row: PolicyRow, context: PolicyContext): boolean {
  if (context.priority === 'critical') return false;
  const events = row.digest?.events;
  if (!Array.isArray(events)) return false;
  return (
    events.includes(context.event) ||
    (context.category !== null && events.includes(`${CATEGORY_PREFIX}${context.category}`))
  );
}

/**
 * The standby to wake in a recipient's chain: walking the chain in order, past failed links and
 * channels that cannot be used (no address: skipped; opted out or unsubscribed: suppressed), the
 * first standby; none while a link is still going out or has gone out.
 */
export function nextInChain(chain: FailoverChain): { id: string; failoverFrom: ChannelName } | null {
  let lastFailed: ChannelName | null = null;
  for (const channel of chain.failover) {
    const row = chain.rows.find((r) => r.channel === channel);
    if (!row) continue;
    if (row.status === 'failed') {
      lastFailed = channel;
      continue;
    }
    if (row.status === 'skipped' && row.error?.startsWith(STANDBY)) {
      return lastFailed ? { id: row.id, failoverFrom: lastFailed } : null;
    }
    if (row.status === 'skipped' || row.status === 'suppressed') continue;
    return null;
  }
  return null;
}
