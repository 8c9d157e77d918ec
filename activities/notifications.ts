import { Context, ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { ERROR_TYPES } from '../common/errors';
import type { ChannelName, DeliveryStatus, IdRange, NotificationRequest, Priority } from '../common/types';
import { resolveGroupRefs } from '../db/queries/groups';
import {
  claimOpenDeliveries,
  countDeliveriesByStatus,
  failOpenDeliveries,
  insertDeliveries,
  markDeliverySent,
  markDeliveryUnsent,
  openDeliveryRanges,
} from '../db/queries/deliveries';
import { markNotificationFinished, markNotificationRunning } from '../db/queries/notifications';
import type { TemplateRegistry } from '../templates/registry';
import type { ChannelRegistry, SendFailure } from './channels/types';

export interface ActivityDeps {
  db: Pool;
  templates: TemplateRegistry;
  channels: ChannelRegistry;
  brandName: string;
}

export interface PrepareInput {
  notificationId: string;
  tenantId: string;
  request: NotificationRequest;
  batchSize: number;
}

export interface PrepareResult {
  recipients: number;
  deliveries: number;
  ranges: IdRange[];
  counts: Partial<Record<DeliveryStatus, number>>;
}

export interface SendBatchInput {
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
  const { db, templates, channels } = deps;

  /** Resolves the audience into delivery-log rows and splits the open ones into batches. */
  async function prepareDeliveries(input: PrepareInput): Promise<PrepareResult> {
    const { request } = input;
    const groupRefs = request.to.groups ?? [];
    const groupKeys = [...new Set((await resolveGroupRefs(db, input.tenantId, groupRefs)).values())];
    await insertDeliveries(db, {
      notificationId: input.notificationId,
      tenantId: input.tenantId,
      event: request.event,
      recipientIds: request.to.recipients ?? [],
      groupKeys,
      emails: request.to.emails ?? [],
      phones: request.to.phones ?? [],
      channels: selectChannels(templates, request),
    });
    const { ranges, recipients, deliveries } = await openDeliveryRanges(
      db,
      input.notificationId,
      input.batchSize,
    );
    await markNotificationRunning(db, input.notificationId, recipients);
    return {
      recipients,
      deliveries,
      ranges,
      counts: await countDeliveriesByStatus(db, input.notificationId),
    };
  }

  /**
   * Sends one batch of deliveries over the channel's pooled transport. Rows already `sent` (by an
   * earlier attempt of this activity, or before a worker crash) are never claimed again. Each success
   * is written to the log the moment the provider accepts it, which keeps the window in which a crash
   * can cause a second copy to one in-flight send per connection.
   */
  async function sendBatch(input: SendBatchInput): Promise<SendBatchResult> {
    const channel = channels[input.range.channel];
    if (!channel) {
      throw ApplicationFailure.create({
        type: ERROR_TYPES.unknownChannel,
        message: `unknown channel ${input.range.channel}`,
        nonRetryable: true,
      });
    }
    const ctx = Context.current();
    const rows = await claimOpenDeliveries(db, input.notificationId, input.range.channel, input.range);
    const result: SendBatchResult = { sent: 0, failed: 0, skipped: 0, retrying: 0 };
    let lastTransient: SendFailure | undefined;

    await forEachConcurrently(rows, channel.concurrency, async (row) => {
      let content: unknown;
      try {
        content = channel.render(templates, input.event, {
          data: input.data,
          recipient: {
            name: row.recipientName,
            email: input.range.channel === 'email' ? row.address : null,
            externalId: row.externalId,
          },
          brand: { name: deps.brandName },
          notification: { id: input.notificationId, event: input.event, priority: input.priority },
        });
      } catch (error) {
        result.failed++;
        await markDeliveryUnsent(
          db,
          row.id,
          'failed',
          error instanceof Error ? error.message : String(error),
        );
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
          },
          content,
        );
        await markDeliverySent(db, row.id, sent.providerMessageId);
        result.sent++;
      } catch (error) {
        const failure = channel.classify(error);
        if (failure.kind === 'skipped') {
          result.skipped++;
          await markDeliveryUnsent(db, row.id, 'skipped', failure.reason);
        } else if (failure.kind === 'permanent') {
          result.failed++;
          await markDeliveryUnsent(db, row.id, 'failed', failure.reason);
        } else {
          result.retrying++;
          lastTransient = failure;
          await markDeliveryUnsent(db, row.id, 'retrying', failure.reason);
        }
      }
      ctx.heartbeat({
        done: result.sent + result.failed + result.skipped + result.retrying,
        of: rows.length,
      });
    });

    if (result.retrying > 0) {
      // Temporal retries the whole activity with backoff; the retry claims only the rows still open.
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
    return failOpenDeliveries(db, input.notificationId, input.range, input.reason);
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

  return { prepareDeliveries, sendBatch, failUnsentDeliveries, finishNotification };
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

/** Runs `work` over `items` with at most `limit` in flight. */
async function forEachConcurrently<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
