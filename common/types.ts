/**
 * Glossary
 * - notification: one request from a backend (`POST /v1/notifications`), run as one workflow `notification-<id>`.
 * - recipient: a person known by the backend's own id (`externalId`), or a raw address with no record.
 * - group: a named set of recipients ("System Admins").
 * - channel: a way to reach a recipient: email, web push, SMS, WhatsApp, in-app inbox, webhook.
 * - delivery: one row of the delivery log, one per notification × recipient × channel.
 * - attempt: one try at sending a delivery; a delivery counts its attempts.
 * - tenant: one customer of Herald; everything above belongs to exactly one, and no call sees another's.
 * - API key: a backend's credential (`hk_…`), of one tenant, stored only as a hash, with scopes.
 * - scope: what a key may do: send, read, manage, admin, critical; `operator` (no tenant) for schedules and tenants.
 * - end-user token: a signed, expiring credential (`heu_…`) for one recipient's own routes (inbox, preferences, push).
 * - principal: who makes a request: a key or an end-user token (api/auth/principal.ts).
 * - tenant settings: a tenant's own SMTP, Twilio and brand; secrets sealed, never returned; a version each, so workers notice a change.
 * - brand: the name, colour, logo, footer and postal address the shared layout shows for a tenant.
 * - override: a tenant's own variant of a built-in template (or a template of its own event), per locale.
 * - locale: BCP 47 tag picking a template variant, with fallback fr-CA → fr → default.
 * - routing: an event's default audience (groups, recipients), used when a notification names no `to`.
 * - unsubscribe token: a signed, login-free link (RFC 8058) that opts a person out of a category on email.
 * - suppression list: raw addresses of a tenant that unsubscribed; their email deliveries are suppressed.
 * - dedupe: a second notification with the same event and key to the same person within a window is suppressed.
 * - throttle: at most N notifications of an event per recipient in a period; the rest are suppressed.
 * - late failover: a provider fails a message after its send (a Twilio callback); the API starts a run that
 *   wakes the recipient's next failover channel.
 * - small audience: at most SMALL_AUDIENCE_DELIVERIES deliveries, resolved, sent and finished in one local activity.
 * - run: one Temporal run of a notification's workflow; a big fan-out continues as new every HISTORY_EVENTS_PER_RUN
 *   events, carrying its cursor, counts and acknowledgement.
 * - send context: what accepting a notification reads of its tenant, in one round trip (db/queries/send-context.ts).
 * - look: the tenant's catalogue and brand a send renders with, read once per batch (activities/notification/send-batch.ts).
 * - send lane: one of a batch's concurrent sends (as many as the channel's pool); each waits for its success to be logged.
 * - group commit: successes of several lanes written in one statement, gathered for up to 3 ms (send-batch.ts).
 * - raw message: an email composed by Herald as one buffer (activities/channels/email/mime.ts); nodemailer only sends it.
 * - prepared statement: a hot query PostgreSQL plans once per connection, named by its text's hash (db/prepared.ts).
 * - schedule: a Temporal Schedule declared in config/schedules.yaml, synced by the CLI or the worker (common/temporal-schedules.ts).
 * - channel settings: the channels' slice of the worker's configuration, each channel's variables declared in its folder (activities/channels/settings.ts).
 * - shared settings: the variables both the API and the worker read, one schema for both (common/shared-settings.ts).
 */

import type { DedupeRule, ThrottleRule } from './dedupe-rules';

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const CHANNELS = ['email', 'push', 'sms', 'whatsapp', 'inapp', 'webhook'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/**
 * Every status the delivery log can hold (its CHECK constraint). `delivered`: the provider confirmed
 * receipt after `sent` (e.g. a Twilio status callback); `digested`: held for the recipient's digest;
 * `suppressed`: a policy said no (unsubscribed, suppression list, duplicate, throttled), unlike `skipped`
 * (cancelled, channel off, no address).
 */
export const DELIVERY_STATUSES = [
  'pending',
  'sending',
  'retrying',
  'sent',
  'delivered',
  'failed',
  'skipped',
  'digested',
  'suppressed',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const NOTIFICATION_STATUSES = ['accepted', 'running', 'completed', 'failed', 'cancelled'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** Who a notification is for, as the backend wrote it. */
export interface Audience {
  recipients?: string[];
  groups?: string[];
  emails?: string[];
  /** Raw E.164 numbers, for SMS and WhatsApp. */
  phones?: string[];
}

/** One escalation level: `afterSeconds` from the notification's start without an acknowledgement, notify these. */
export interface EscalationLevel {
  afterSeconds: number;
  /** Channels to use; without recipients/groups, the notification's own audience on these channels. */
  channels?: ChannelName[];
  recipients?: string[];
  groups?: string[];
}

export interface EscalationPolicy {
  levels: EscalationLevel[];
  /** How many more times to run the whole list of levels after the first pass (0: once). */
  repeat?: number;
}

/** The validated body of `POST /v1/notifications`. */
export interface NotificationRequest {
  event: string;
  to: Audience;
  data: Record<string, unknown>;
  priority: Priority;
  channels?: ChannelName[];
  escalation?: EscalationPolicy;
  /** BCP 47 locale for raw addresses (recipients use their own); the tenant's default otherwise. */
  locale?: string;
  /** Replaces the manifest's dedupe rule: same event and rendered key to the same person within the window → suppressed. */
  dedupe?: DedupeRule;
  /** Replaces the manifest's throttle rule: at most `max` per recipient × event in each `per`. */
  throttle?: ThrottleRule;
}

/** Retry policy for one channel, in milliseconds; becomes a Temporal RetryPolicy in the workflow. */
export interface ChannelRetryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
}

/** Tuning the workflow receives as input, so it stays deterministic and visible in the history. */
export interface DeliveryTuning {
  /** `high` notifications ignore quiet hours too (`critical` always does). */
  quietHoursBypassHigh: boolean;
  batchSize: number;
  maxConcurrentBatches: number;
  heartbeatTimeoutMs: number;
  retry: Record<ChannelName, ChannelRetryPolicy>;
  /** Batches read per page of a level's open deliveries (absent in runs started before paging). */
  rangesPerPage?: number;
  /** A run continues as new once its history has this many events (Temporal's limit is 51,200). */
  historyEventsPerRun?: number;
  /** Audiences of at most this many deliveries are sent by the activity that resolves them. */
  smallAudience?: number;
}

/** How a failover standby's delivery reads in the log (`failover standby (after push)`). */
export const FAILOVER_STANDBY = 'failover standby';

/** Input of the late-failover workflow, started by the API when a provider fails a sent message. */
export interface LateFailoverInput {
  notificationId: string;
  tenantId: string;
  /** The level of the delivery that failed late (0: the notification itself, n: escalation level n). */
  level: number;
  event: string;
  priority: Priority;
  data: Record<string, unknown>;
  ackable: boolean;
  tuning: DeliveryTuning;
}

/** Input of the notification workflow. */
export interface NotificationWorkflowInput {
  notificationId: string;
  tenantId: string;
  request: NotificationRequest;
  tuning: DeliveryTuning;
  /**
   * Set by every start since paged fan-out became the only shape: such runs never ask
   * `patched('paged-fan-out')`, whose marker also upserts TemporalChangeVersion (an event and a
   * visibility write per notification). Runs without it replay by their marker, or its absence.
   */
  paged?: true;
  /** Set when a run continues as new: where the previous one stopped. */
  carried?: NotificationCarry;
}

/**
 * What a notification run hands to the next when its history is long enough to continue as new
 * (a continued run): the progress so far, the acknowledgement, and where it stands.
 */
export interface NotificationCarry {
  /** When the first run started: escalation levels are due relative to it. */
  startedAt: number;
  progress: NotificationProgress;
  acknowledged: Acknowledgement | null;
  at: NotificationPosition;
}

/**
 * A step of a notification, per level (0: the notification, n: escalation level n): resolve its
 * audience, send its open deliveries page by page from `cursor`, wake failover links, wait for an ack.
 */
export interface NotificationPosition {
  level: number;
  step: 'resolve' | 'send' | 'failover' | 'wait';
  cursor: RangeCursor | null;
  /** The resolving step already tried these sends once (small audience): one attempt fewer is left. */
  triedOnce?: boolean;
  /** Then: the wait before that retry (a provider's Retry-After, else the shortest first interval). */
  retryDelayMs?: number;
}

/** Where a page of a level's open deliveries ended: send order is (quiet-hours group, channel, id). */
export interface RangeCursor {
  notBefore: string | null;
  channel: ChannelName;
  id: string;
}

export type NotificationPhase =
  | 'resolving'
  | 'sending'
  | 'waiting_quiet_hours'
  | 'waiting_ack'
  | 'finishing'
  | 'completed'
  | 'failed'
  | 'cancelled';

export interface Acknowledgement {
  by: string;
  at: string;
}

/** What the `state` query returns while a notification runs. */
export interface NotificationProgress {
  notificationId: string;
  phase: NotificationPhase;
  recipients: number;
  deliveries: number;
  batchesTotal: number;
  batchesDone: number;
  counts: Partial<Record<DeliveryStatus, number>>;
  /** Deliveries held back by quiet hours, and when the next of them may go. */
  quietHours: { deliveries: number; nextAt: string | null } | null;
  /** Present when the request has an escalation policy. */
  escalation: { level: number; levels: number; nextAt: string | null } | null;
  acknowledged: Acknowledgement | null;
}

/** What the workflow returns when it ends. */
export interface NotificationOutcome {
  notificationId: string;
  status: 'completed' | 'failed' | 'cancelled';
  recipients: number;
  counts: Partial<Record<DeliveryStatus, number>>;
  acknowledged: Acknowledgement | null;
}

/** Answer of the `ack` update. */
export interface AckResult {
  accepted: boolean;
  /** Why not, when not accepted. */
  reason: string | null;
  acknowledged: Acknowledgement | null;
  /** Escalation levels that will no longer fire because of this acknowledgement. */
  stoppedLevels: number;
}

/** Answer of the `cancel` update: what was still pending, and what had gone out when it took effect. */
export interface CancelResult {
  cancelled: boolean;
  reason: string | null;
  pending: {
    batches: number;
    escalationLevels: number;
    nextEscalationAt: string | null;
    /** Deliveries that were waiting for the end of quiet hours. */
    quietHoursDeliveries: number;
  };
  /** Deliveries the log records as sent once running batches had stopped (0 when not cancelled). */
  sentBeforeCancel: number;
}

/** A batch of delivery-log rows, by id range, that one send activity handles. */
export interface IdRange {
  channel: ChannelName;
  level: number;
  /** Not before this instant (quiet hours); null: now. */
  notBefore: string | null;
  fromId: string;
  toId: string;
  size: number;
  /** The addresses in the range, shortened, for the activity summary in the Temporal UI. */
  label: string;
}
