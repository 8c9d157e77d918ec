/**
 * Each channel's decision for one person, read from their delivery-log rows: the status says what
 * happened, and the reason the policies wrote (`error`) says which rule decided. The reason texts
 * are the ones activities/policies.ts, activities/dedupe-throttle.ts and common/preferences.ts write.
 */
import { FAILOVER_STANDBY } from '../../common/types';
import type { Delivery } from '../../db/queries/deliveries';
import type { ExplainedDelivery } from '../../db/queries/explain';

export const CHANNEL_DECISIONS = [
  'sent',
  'delivered',
  'failed',
  'pending',
  'retrying',
  'quiet_hours',
  'digest',
  'failover_standby',
  'preference',
  'unsubscribed',
  'suppression_list',
  'deduped',
  'throttled',
  'suppressed',
  'skipped',
  'merged',
] as const;
export type ChannelDecisionKind = (typeof CHANNEL_DECISIONS)[number];

export interface ChannelStory {
  channel: string;
  /** 0: the notification itself; n: escalation level n. */
  level: number;
  decision: ChannelDecisionKind;
  /** The delivery-log status (null for a merged channel: the person has no row of their own). */
  status: string | null;
  address: string | null;
  /** The rule or the provider's answer, as the log has it. */
  reason: string | null;
  /** Quiet hours held the delivery until then (it may have gone out since). */
  heldUntil: string | null;
  /** The channel whose permanent failure woke this one (failover). */
  failoverFrom: string | null;
  /** deduped: the earlier notification this one duplicated. */
  duplicateOf: string | null;
  /** merged: who got the one message for the shared address. */
  mergedWith: string | null;
  /** digest: whether the digest went out and when. */
  digest: { sentAt: string | null } | null;
  /** The send attempts: how many, the latest answer, and each attempt with its answer. */
  attempts: {
    count: number;
    lastError: string | null;
    history: AttemptStory[];
    providerMessageId: string | null;
    providerStatus: string | null;
    sentAt: string | null;
    updatedAt: string | null;
  };
}

/** One send attempt: a failed one from the attempt log, or the one that went out (the row itself). */
export interface AttemptStory {
  attempt: number;
  outcome: 'retrying' | 'failed' | 'sent';
  at: string | null;
  /** The provider's answer: its error, or for the sent attempt its message id. */
  answer: string | null;
}

/** The failed attempts the log kept, then the one that went out, if one did. */
function attemptHistory(row: ExplainedDelivery): AttemptStory[] {
  const history: AttemptStory[] = row.failedAttempts.map((a) => ({
    attempt: a.attempt,
    outcome: a.outcome,
    at: a.at,
    answer: a.error,
  }));
  if (row.sentAt) {
    history.push({
      attempt: row.attempts,
      outcome: 'sent',
      at: row.sentAt,
      answer: row.providerMessageId ? `accepted as ${row.providerMessageId}` : 'accepted',
    });
  }
  return history;
}

const DUPLICATE = /^duplicate of ([0-9a-f-]{36})/;

/** What a suppressed row's reason says decided it. */
function suppressedKind(reason: string): ChannelDecisionKind {
  if (DUPLICATE.test(reason)) return 'deduped';
  if (reason.startsWith('throttled:')) return 'throttled';
  if (reason.endsWith('(suppression list)')) return 'suppression_list';
  if (reason.startsWith('unsubscribed from')) return 'unsubscribed';
  if (reason.startsWith('opted out') || reason.startsWith('filtered out')) return 'preference';
  return 'suppressed';
}

function decisionOf(row: ExplainedDelivery, now: number): ChannelDecisionKind {
  const reason = row.error ?? '';
  switch (row.status) {
    case 'sent':
      return 'sent';
    case 'delivered':
      return 'delivered';
    case 'failed':
      return 'failed';
    case 'digested':
      return 'digest';
    case 'suppressed':
      return suppressedKind(reason);
    case 'skipped':
      return reason.startsWith(FAILOVER_STANDBY) ? 'failover_standby' : 'skipped';
    case 'retrying':
      return 'retrying';
    default:
      return row.notBefore && Date.parse(row.notBefore) > now ? 'quiet_hours' : 'pending';
  }
}

export function channelStory(row: ExplainedDelivery, now: number): ChannelStory {
  const decision = decisionOf(row, now);
  return {
    channel: row.channel,
    level: row.level,
    decision,
    status: row.status,
    address: row.address || null,
    reason: row.error,
    heldUntil: row.notBefore,
    failoverFrom: row.failoverFrom,
    duplicateOf: decision === 'deduped' ? (DUPLICATE.exec(row.error ?? '')?.[1] ?? null) : null,
    mergedWith: null,
    digest: row.digested ? { sentAt: row.digestSentAt } : null,
    attempts: {
      count: row.attempts,
      lastError: row.error,
      history: attemptHistory(row),
      providerMessageId: row.providerMessageId,
      providerStatus: row.providerStatus,
      sentAt: row.sentAt,
      updatedAt: row.updatedAt,
    },
  };
}

/** A channel the person has no row for because their address was shared: `into` got the message. */
export function mergedStory(channel: string, address: string, into: Delivery): ChannelStory {
  const mergedWith = into.externalId ?? into.recipientKey;
  return {
    channel,
    level: into.level,
    decision: 'merged',
    status: null,
    address,
    reason: `address ${address} is shared: one message went to ${mergedWith} (${into.status})`,
    heldUntil: null,
    failoverFrom: null,
    duplicateOf: null,
    mergedWith,
    digest: null,
    attempts: {
      count: 0,
      lastError: null,
      history: [],
      providerMessageId: null,
      providerStatus: null,
      sentAt: null,
      updatedAt: null,
    },
  };
}

export const OUTCOMES = [
  'reached',
  'pending',
  'digested',
  'failed',
  'suppressed',
  'skipped',
  'merged',
  'not_resolved',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * The person's outcome over their rows, best first: any message that went out is `reached`; else
 * one still to go, a digest item, a failure, a policy's no, a skip; `merged` when only a shared
 * address stood for them; `not_resolved` when they have no row at all.
 */
export function outcomeOf(decisions: { status: string | null; decision?: string }[]): Outcome {
  const statuses = new Set(decisions.map((d) => d.status));
  if (statuses.has('sent') || statuses.has('delivered')) return 'reached';
  if (statuses.has('pending') || statuses.has('sending') || statuses.has('retrying')) return 'pending';
  if (statuses.has('digested')) return 'digested';
  if (statuses.has('failed')) return 'failed';
  if (statuses.has('suppressed')) return 'suppressed';
  if (statuses.has('skipped')) return 'skipped';
  if (decisions.some((d) => d.decision === 'merged')) return 'merged';
  return 'not_resolved';
}
