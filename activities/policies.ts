import { CATEGORY_PREFIX, resolveChannelDecision, type PreferencesDocument } from '../common/preferences';
import type { ChannelName, Priority } from '../common/types';
import type { FailoverChain, PolicyOutcome, PolicyRow } from '../db/queries/policies';

/** The error text that marks a delivery held back as a later link of a failover chain. */
export const STANDBY = 'failover standby';

/** Channels a digest replaces; the inbox and webhooks are not interruptions, so they still get each one. */
const DIGESTIBLE: ChannelName[] = ['email', 'push', 'sms', 'whatsapp'];

export interface PolicyContext {
  event: string;
  category: string | null;
  priority: Priority;
  data: Record<string, unknown>;
}

/**
 * One recipient's pending deliveries of a notification, decided in order: preferences (opt-outs,
 * filters, email override), then the digest (non-critical events the recipient takes as a digest
 * become digest items), then failover (only the first usable channel of the recipient's chain goes
 * now; the others wait as standbys).
 */
export function decideForRecipient(
  rows: PolicyRow[],
  preferences: { own: PreferencesDocument | null; groups: readonly PreferencesDocument[] },
  context: PolicyContext,
): PolicyOutcome[] {
  const outcomes = rows.map((row): PolicyOutcome => {
    const decision = resolveChannelDecision({
      ...preferences,
      ...context,
      channel: row.channel,
      address: row.address || null,
    });
    if (!decision.send)
      return { id: row.id, status: 'skipped', reason: decision.reason, address: row.address };
    const address = decision.address ?? row.address;
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
 * channels that cannot be used (no address, opted out), the first standby; none while a link is
 * still going out or has gone out.
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
    if (row.status === 'skipped') continue;
    return null;
  }
  return null;
}
