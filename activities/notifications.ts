import { Context, ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { ackLink } from '../common/ack-link';
import { deliveryUnsubscribeUrl, type UnsubscribeLinkSettings } from '../common/unsubscribe-token';
import { ERROR_TYPES } from '../common/errors';
import { isDatabaseUnavailable } from '../db/availability';
import { createLogger } from '../common/logger';
import { workerMetrics, type WorkerMetrics } from '../common/metrics';
import { quietHoursEnd } from '../common/quiet-hours';
import {
  applyPolicyOutcomes,
  failoverChains,
  policyRowsPage,
  tenantHasPolicies,
  wakeStandbys,
  type PolicyRow,
} from '../db/queries/policies';
import { loadPreferencesFor } from '../db/queries/preferences';
import {
  decideForRecipient,
  emailAddressesToCheck,
  nextInChain,
  suppressionListReason,
  unsubscribesApply,
} from './policies';
import { suppressedAddresses, suppressRawEmailDeliveries } from '../db/queries/suppressions';
import { createDedupeThrottleStep } from './dedupe-throttle';
import type {
  Audience,
  ChannelName,
  DeliveryStatus,
  IdRange,
  NotificationRequest,
  Priority,
} from '../common/types';
import { resolveGroupRefs } from '../db/queries/groups';
import {
  claimDelivery,
  countDeliveriesByStatus,
  failOpenDeliveries,
  insertDeliveries,
  markDeliverySent,
  markDeliveryUnsent,
  openDeliveriesInRange,
  openDeliveryRanges,
  quietHoursCandidates,
  setNotBefore,
  skipOpenDeliveries,
} from '../db/queries/deliveries';
import { markNotificationFinished, markNotificationRunning } from '../db/queries/notifications';
import { getTenantSetting } from '../db/queries/tenant-settings';
import { resolveBrand } from '../common/settings/brand';
import type { TemplateManifest, TemplateRegistry } from '../templates/registry';
import type { ChannelRegistry, SendFailure } from './channels/types';

export interface ActivityDeps {
  /** PUBLIC_BASE_URL and HERALD_SECRET_KEY, when both are set: messages that can escalate link to an ack. */
  ackLinks?: { baseUrl: string; key: Buffer; ttlSeconds?: number };
  /** The same two: email carries one-click unsubscribe links (List-Unsubscribe, the layout's footer). */
  unsubscribeLinks?: UnsubscribeLinkSettings;
  db: Pool;
  templates: TemplateRegistry;
  channels: ChannelRegistry;
  brandName: string;
  /** Where delivery outcomes are counted; the process-wide registry by default. */
  metrics?: WorkerMetrics;
}

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

export interface SendBatchInput {
  /** The notification can escalate: messages carry a signed acknowledgement link. */
  ackable?: boolean;
  notificationId: string;
  tenantId: string;
  event: string;
  priority: Priority;
  data: Record<string, unknown>;
  range: IdRange;
}

export interface SendBatchResult {
  sent: number;
  failed: number;
  skipped: number;
  retrying: number;
}

export function createNotificationActivities(deps: ActivityDeps) {
  const { db, channels } = deps;
  const metrics = deps.metrics ?? workerMetrics();
  const log = createLogger('activities');
  const applyDedupeAndThrottle = createDedupeThrottleStep({ db });

  /** Resolves the audience into delivery-log rows and splits the open ones into batches. */
  async function prepareDeliveries(input: PrepareInput): Promise<PrepareResult> {
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
    await applyRecipientPolicies(input.notificationId, input.tenantId, level, request, manifest);
    await applyDedupeAndThrottle({
      notificationId: input.notificationId,
      tenantId: input.tenantId,
      level,
      request,
      manifest,
    });
    const bypass =
      request.priority === 'critical' || (request.priority === 'high' && input.quietHoursBypassHigh);
    if (!bypass) await deferForQuietHours(input.notificationId, level, Date.now());
    const { ranges, recipients, deliveries } = await openDeliveryRanges(
      db,
      input.notificationId,
      input.batchSize,
      level,
    );
    if (level === 0) await markNotificationRunning(db, input.notificationId, recipients);
    if (level > 0) {
      metrics.escalations.inc({ level: String(level) });
      log.info(
        { workflowId: currentWorkflowId(), notificationId: input.notificationId, level, deliveries },
        'escalation prepared',
      );
    }
    return {
      recipients,
      deliveries,
      ranges,
      counts: await countDeliveriesByStatus(db, input.notificationId),
    };
  }

  /** Preferences, digests and failover, one page of recipients at a time (an audience is never loaded whole). */
  async function applyRecipientPolicies(
    notificationId: string,
    tenantId: string,
    level: number,
    request: NotificationRequest,
    manifest: TemplateManifest | undefined,
  ): Promise<void> {
    const context = {
      event: request.event,
      category: manifest?.category ?? null,
      priority: request.priority,
      data: request.data,
      unsubscribable: manifest?.unsubscribe ?? true,
    };
    if (!(await tenantHasPolicies(db, tenantId))) return;
    // Raw addresses have no other policy (and no failover chain): the suppression list alone decides.
    if (unsubscribesApply(context)) {
      const reason = suppressionListReason(context.category);
      await suppressRawEmailDeliveries(db, notificationId, level, context.category, reason);
    }
    let after = '';
    for (;;) {
      const rows = await policyRowsPage(db, notificationId, level, after, 500);
      if (rows.length === 0) return;
      const byRecipient = new Map<string, PolicyRow[]>();
      for (const row of rows)
        byRecipient.set(row.externalId, [...(byRecipient.get(row.externalId) ?? []), row]);
      const preferences = await loadPreferencesFor(db, tenantId, [...byRecipient.keys()]);
      const addressOf = new Map(rows.map((r) => [r.id, r.address]));
      const suppressed = unsubscribesApply(context)
        ? await suppressedAddresses(db, tenantId, emailAddressesToCheck(rows, preferences), context.category)
        : new Set<string>();
      const outcomes = [...byRecipient].flatMap(([externalId, own]) =>
        decideForRecipient(
          own,
          preferences.get(externalId) ?? { own: null, groups: [] },
          context,
          suppressed,
        ),
      );
      // Most rows stay pending at their address: only the changed ones are written.
      const changed = outcomes.filter((o) => o.status !== 'pending' || o.address !== addressOf.get(o.id));
      await applyPolicyOutcomes(db, notificationId, changed, request.data);
      const digested = changed.filter((o) => o.status === 'digested').length;
      if (digested > 0) metrics.digestItems.inc(digested);
      after = rows[rows.length - 1]!.externalId;
    }
  }

  /**
   * After a round of sends: wakes the next link of each failover chain whose current link failed
   * for good, and returns the batches of the woken deliveries.
   */
  async function wakeFailover(input: {
    notificationId: string;
    level: number;
    batchSize: number;
  }): Promise<{ ranges: IdRange[] }> {
    const chains = await failoverChains(db, input.notificationId, input.level);
    const wakes = chains.flatMap((chain) => nextInChain(chain) ?? []);
    await wakeStandbys(db, wakes);
    if (wakes.length === 0) return { ranges: [] };
    const woken = wakes.map((w) => w.id);
    const { ranges } = await openDeliveryRanges(
      db,
      input.notificationId,
      input.batchSize,
      input.level,
      woken,
    );
    return { ranges };
  }

  /**
   * Holds back the deliveries of recipients inside their quiet hours until the window ends, in their
   * own time zone (UTC when they have none). Pages through only the recipients that keep quiet hours.
   */
  async function deferForQuietHours(notificationId: string, level: number, now: number): Promise<void> {
    let afterId = '0';
    for (;;) {
      const page = await quietHoursCandidates(db, notificationId, level, afterId, 1000);
      if (page.length === 0) return;
      const updates = page.flatMap((c) => {
        const end = quietHoursEnd({ ...c.quietHours, timezone: c.timezone ?? 'UTC' }, now);
        // Whole seconds, so recipients whose windows end together share one timer.
        return end > now ? [{ id: c.id, notBefore: new Date(Math.ceil(end / 1000) * 1000) }] : [];
      });
      await setNotBefore(db, updates);
      afterId = page[page.length - 1]!.id;
    }
  }

  /**
   * Sends one batch of deliveries over the channel's pooled transport. Each row is claimed right
   * before its send, and only while still open: rows already `sent` (by an earlier attempt, or before
   * a worker crash) or ended by cancel are never sent again. Each success is written to the log the
   * moment the provider accepts it, which keeps the window in which a crash can cause a second copy
   * to one in-flight send per connection.
   */
  async function sendBatch(input: SendBatchInput): Promise<SendBatchResult> {
    try {
      return await sendBatchOnce(input);
    } catch (error) {
      // Not an attempt that failed: the log is unreachable. The workflow resumes the batch once the
      // database is back, however long that takes, so an outage never turns deliveries into failures.
      if (isDatabaseUnavailable(error)) {
        throw ApplicationFailure.create({
          type: ERROR_TYPES.databaseUnavailable,
          message: `the delivery log is unreachable: ${error instanceof Error ? error.message : String(error)}`,
          nonRetryable: true,
        });
      }
      throw error;
    }
  }

  async function sendBatchOnce(input: SendBatchInput): Promise<SendBatchResult> {
    const channel = channels[input.range.channel];
    if (!channel) {
      throw ApplicationFailure.create({
        type: ERROR_TYPES.unknownChannel,
        message: `unknown channel ${input.range.channel}`,
        nonRetryable: true,
      });
    }
    const ctx = Context.current();
    const workflowId = ctx.info.workflowExecution?.workflowId;
    const channelName = input.range.channel;
    const rows = await openDeliveriesInRange(db, input.notificationId, input.range.channel, input.range);
    // Per batch, not per row: the tenant's templates (compiled once per version) and its brand.
    const templates = await deps.templates.forTenant(db, input.tenantId);
    const brand = resolveBrand((await getTenantSetting(db, input.tenantId, 'brand'))?.config, deps.brandName);
    const manifest = templates.manifest(input.event);
    const result: SendBatchResult = { sent: 0, failed: 0, skipped: 0, retrying: 0 };
    let lastTransient: SendFailure | undefined;
    /** Counts and logs one delivery's outcome in this attempt: debug when sent, warn otherwise. */
    const outcome = (
      deliveryId: string,
      kind: 'sent' | 'failed' | 'skipped' | 'retrying',
      reason?: string,
    ): void => {
      result[kind]++;
      metrics.deliveries.inc({ channel: channelName, outcome: kind });
      const fields = { workflowId, notificationId: input.notificationId, channel: channelName, deliveryId };
      if (kind === 'sent') log.debug({ ...fields, outcome: kind }, 'delivery sent');
      else log.warn({ ...fields, outcome: kind, reason }, `delivery ${kind}`);
    };

    await forEachConcurrently(rows, channel.concurrency, async (row) => {
      // Cancelled notification: send nothing more; the workflow marks what is left as skipped.
      if (ctx.cancellationSignal.aborted) return;
      // The heartbeat that brings a cancel can be throttled for many seconds; the log cannot be.
      if (!(await claimDelivery(db, row.id))) return;
      const unsubscribeUrl = deliveryUnsubscribeUrl(deps.unsubscribeLinks, {
        tenantId: input.tenantId,
        channel: channelName,
        priority: input.priority,
        category: manifest?.category ?? null,
        unsubscribable: manifest?.unsubscribe ?? true,
        externalId: row.externalId,
        address: row.address,
      });
      let content: unknown;
      try {
        content = channel.render(templates, input.event, {
          data: input.data,
          recipient: {
            name: row.recipientName,
            email: input.range.channel === 'email' ? row.address : null,
            externalId: row.externalId,
            locale: row.locale ?? brand.defaultLocale,
            timezone: row.timezone,
          },
          brand,
          notification: { id: input.notificationId, event: input.event, priority: input.priority },
          ackUrl:
            input.ackable && deps.ackLinks && row.externalId
              ? ackLink(deps.ackLinks.baseUrl, deps.ackLinks.key, input.notificationId, row.externalId, {
                  ttlSeconds: deps.ackLinks.ttlSeconds,
                })
              : undefined,
          unsubscribeUrl,
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        await markDeliveryUnsent(db, row.id, 'failed', reason);
        outcome(row.id, 'failed', reason);
        return;
      }
      try {
        const sent = await channel.send(
          {
            deliveryId: row.id,
            notificationId: input.notificationId,
            tenantId: input.tenantId,
            event: input.event,
            priority: input.priority,
            channel: input.range.channel,
            recipientKey: row.recipientKey,
            externalId: row.externalId,
            address: row.address,
            recipientName: row.recipientName,
            data: input.data,
            unsubscribeUrl,
          },
          content,
        );
        await markDeliverySent(db, row.id, sent.providerMessageId);
        outcome(row.id, 'sent');
      } catch (error) {
        const failure = channel.classify(error);
        if (failure.kind === 'skipped') {
          await markDeliveryUnsent(db, row.id, 'skipped', failure.reason);
          outcome(row.id, 'skipped', failure.reason);
        } else if (failure.kind === 'permanent') {
          await markDeliveryUnsent(db, row.id, 'failed', failure.reason);
          outcome(row.id, 'failed', failure.reason);
        } else {
          lastTransient = failure;
          await markDeliveryUnsent(db, row.id, 'retrying', failure.reason);
          outcome(row.id, 'retrying', failure.reason);
        }
      }
      ctx.heartbeat({
        done: result.sent + result.failed + result.skipped + result.retrying,
        of: rows.length,
      });
    });

    // Cancelled meanwhile: say so, so a workflow waiting for this batch to stop sees it stop.
    if (ctx.cancellationSignal.aborted) await ctx.cancelled;
    if (result.retrying > 0) {
      // Temporal retries the whole activity with backoff; the retry claims only the rows still open.
      metrics.batchRetries.inc({ channel: channelName });
      log.warn(
        {
          workflowId,
          notificationId: input.notificationId,
          channel: channelName,
          attempt: ctx.info.attempt,
          ...result,
        },
        'send batch will be retried',
      );
      throw ApplicationFailure.create({
        type: ERROR_TYPES.transientSendFailures,
        message: `${result.retrying} of ${rows.length} ${input.range.channel} deliveries failed temporarily: ${lastTransient?.reason}`,
        details: [result],
        nextRetryDelay: lastTransient?.retryAfterMs,
      });
    }
    return result;
  }

  /** After the last retry: whatever is still open in the range failed for good. */
  async function failUnsentDeliveries(input: {
    notificationId: string;
    range: IdRange;
    reason: string;
  }): Promise<number> {
    const failed = await failOpenDeliveries(db, input.notificationId, input.range, input.reason);
    if (failed > 0) {
      // Deliveries that were still retrying when the retries ran out end here, as failed.
      metrics.deliveries.inc({ channel: input.range.channel, outcome: 'failed' }, failed);
      log.warn(
        {
          workflowId: currentWorkflowId(),
          notificationId: input.notificationId,
          channel: input.range.channel,
          failed,
          reason: input.reason,
        },
        'deliveries failed after the last retry',
      );
    }
    return failed;
  }

  /**
   * The first step of a cancel: rows no send has claimed yet end as skipped, so running batches
   * stop at their next claim; the sends already on the wire finish and are logged.
   */
  async function skipUnclaimedDeliveries(input: { notificationId: string }): Promise<number> {
    return skipOpenDeliveries(db, input.notificationId, 'cancelled', ['pending', 'retrying']);
  }

  /** A cancelled notification: nothing still open will be sent. */
  async function finishCancelled(input: {
    notificationId: string;
  }): Promise<{ skipped: number; counts: Partial<Record<DeliveryStatus, number>> }> {
    const skipped = await skipOpenDeliveries(db, input.notificationId, 'cancelled');
    await markNotificationFinished(db, input.notificationId, 'cancelled');
    return { skipped, counts: await countDeliveriesByStatus(db, input.notificationId) };
  }

  /** Records the notification's final status from its deliveries. */
  async function finishNotification(input: {
    notificationId: string;
  }): Promise<{ status: 'completed' | 'failed'; counts: Partial<Record<DeliveryStatus, number>> }> {
    const counts = await countDeliveriesByStatus(db, input.notificationId);
    const status = (counts.failed ?? 0) > 0 && (counts.sent ?? 0) === 0 ? 'failed' : 'completed';
    await markNotificationFinished(db, input.notificationId, status);
    return { status, counts };
  }

  return {
    prepareDeliveries,
    sendBatch,
    failUnsentDeliveries,
    finishNotification,
    finishCancelled,
    skipUnclaimedDeliveries,
    wakeFailover,
  };
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

/** The workflow that scheduled the running activity, for log lines; none outside an activity. */
function currentWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` over `items` with at most `limit` in flight. After a failure no new item starts, and
 * the failure is rethrown once the items in flight have settled, so nothing runs on after the call.
 */
async function forEachConcurrently<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
}
