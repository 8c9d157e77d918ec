import type {
  Audience,
  ChannelName,
  DeliveryStatus,
  IdRange,
  NotificationRequest,
  RangeCursor,
} from '../../common/types';
import { resolveGroupRefs } from '../../db/queries/groups';
import {
  countDeliveriesByStatus,
  insertDeliveries,
  levelSummary,
  openDeliveryRanges,
  openDeliveryRangesPage,
  type LevelSummary,
} from '../../db/queries/deliveries';
import { markNotificationRunning } from '../../db/queries/notifications';
import type { TemplateRegistry } from '../../templates/registry';
import { createDedupeThrottleStep } from '../dedupe-throttle';
import { currentWorkflowId, type StepContext } from './deps';
import { deferForQuietHours } from './quiet-hours';
import { applyRecipientPolicies } from './recipient-policies';

export interface PrepareInput {
  notificationId: string;
  tenantId: string;
  request: NotificationRequest;
  batchSize: number;
  /** `high` ignores quiet hours too (`critical` always does). */
  quietHoursBypassHigh?: boolean;
  /** 0: the notification itself; n: escalation level n, with its own audience and channels. */
  level?: number;
  to?: Audience;
  channels?: ChannelName[];
}

export interface PrepareResult {
  recipients: number;
  deliveries: number;
  ranges: IdRange[];
  counts: Partial<Record<DeliveryStatus, number>>;
}

/** What the paged workflow learns from resolving a level; its batches come page by page (`openRangesPage`). */
export interface ResolvedLevel extends LevelSummary {
  counts: Partial<Record<DeliveryStatus, number>>;
}

export interface RangesPageInput {
  notificationId: string;
  level: number;
  batchSize: number;
  maxRanges: number;
  after: RangeCursor | null;
}

export function createResolveSteps(step: StepContext) {
  const { deps, metrics, log } = step;
  const { db } = deps;
  const applyDedupeAndThrottle = createDedupeThrottleStep({ db, log });

  /**
   * Resolves a level's audience into delivery-log rows: people, groups and raw addresses; then the
   * recipients' policies, the dedupe and throttle rules, and quiet hours. Re-running it adds nothing.
   * Answers the tenant's catalogue it read, for a caller that sends next (the small-audience path).
   */
  async function resolveLevel(input: PrepareInput): Promise<TemplateRegistry> {
    const { request } = input;
    // The tenant's view: its own events have channels too.
    const templates = await deps.templates.forTenant(db, input.tenantId);
    const level = input.level ?? 0;
    const to = input.to ?? request.to;
    const groupKeys = [...new Set((await resolveGroupRefs(db, input.tenantId, to.groups ?? [])).values())];
    const channels = input.channels
      ? input.channels.filter((channel) => templates.supports(request.event, channel))
      : selectChannels(templates, request);
    await insertDeliveries(db, {
      notificationId: input.notificationId,
      tenantId: input.tenantId,
      event: request.event,
      recipientIds: to.recipients ?? [],
      groupKeys,
      emails: to.emails ?? [],
      phones: to.phones ?? [],
      channels,
      level,
    });
    const manifest = templates.manifest(request.event);
    await applyRecipientPolicies(db, metrics, input.notificationId, input.tenantId, level, request, manifest);
    await applyDedupeAndThrottle({
      notificationId: input.notificationId,
      tenantId: input.tenantId,
      level,
      request,
      manifest,
    });
    const bypass =
      request.priority === 'critical' || (request.priority === 'high' && input.quietHoursBypassHigh);
    if (!bypass) await deferForQuietHours(db, input.notificationId, level, Date.now());
    return templates;
  }

  function logEscalation(notificationId: string, level: number, deliveries: number): void {
    if (level === 0) return;
    metrics.escalations.inc({ level: String(level) });
    log.info({ workflowId: currentWorkflowId(), notificationId, level, deliveries }, 'escalation prepared');
  }

  /** Runs started before paging: the level resolved, and every batch of it at once. */
  async function prepareDeliveries(input: PrepareInput): Promise<PrepareResult> {
    await resolveLevel(input);
    const level = input.level ?? 0;
    const { ranges, recipients, deliveries } = await openDeliveryRanges(
      db,
      input.notificationId,
      input.batchSize,
      level,
    );
    if (level === 0) await markNotificationRunning(db, input.notificationId, recipients);
    logEscalation(input.notificationId, level, deliveries);
    return {
      recipients,
      deliveries,
      ranges,
      counts: await countDeliveriesByStatus(db, input.notificationId),
    };
  }

  /** What the log says of a level now. */
  async function levelState(
    notificationId: string,
    level: number,
    batchSize: number,
  ): Promise<ResolvedLevel> {
    const summary = await levelSummary(db, { notificationId, level, batchSize, now: new Date() });
    return { ...summary, counts: await countDeliveriesByStatus(db, notificationId) };
  }

  /** The notification runs (with its audience's size); an escalation level is counted and logged. */
  async function markResolved(notificationId: string, level: number, state: ResolvedLevel): Promise<void> {
    if (level === 0) await markNotificationRunning(db, notificationId, state.recipients);
    logEscalation(notificationId, level, state.deliveries);
  }

  /** The next page of a level's open batches, in send order (the workflow keeps only the cursor). */
  async function openRangesPage(
    input: RangesPageInput,
  ): Promise<{ ranges: IdRange[]; cursor: RangeCursor | null }> {
    return openDeliveryRangesPage(db, input);
  }

  return { resolveLevel, levelState, markResolved, prepareDeliveries, openRangesPage };
}

/**
 * The channels of a notification: the template's defaults, or the request's own list (which the API
 * has checked against the template's variants).
 */
export function selectChannels(templates: TemplateRegistry, request: NotificationRequest): ChannelName[] {
  const manifest = templates.manifest(request.event);
  const wanted = request.channels ?? manifest?.defaultChannels ?? ['email'];
  return wanted.filter((channel) => templates.supports(request.event, channel));
}
