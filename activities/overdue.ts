import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { canonicalJson, sha256Hex } from '../common/canonical-json';
import { startNotificationWorkflow } from '../common/start-notification';
import { notificationWorkflowId } from '../common/temporal';
import { DEFAULT_DELIVERY_TUNING } from '../common/delivery-tuning';
import type { DeliveryTuning, NotificationRequest } from '../common/types';
import {
  getDeadline,
  listOverdueDeadlines,
  markDeadlineNotified,
  overdueVariables,
  type Deadline,
  type OverdueCursor,
} from '../db/queries/deadlines';
import { insertNotificationOnce } from '../db/queries/notifications';
import type { ActivityDeps } from './notifications';

export interface OverdueActivityDeps extends ActivityDeps {
  /** Starts notification workflows; defaults to the worker's own client (the activity context's). */
  temporalClient?: Client;
  /** Task queue of the notification workflows; defaults to the queue this activity runs on. */
  taskQueue?: string;
  /**
   * Delivery tuning of the notifications, unless the overdue workflow's input gives some: the worker's
   * (its QUIET_HOURS_HIGH_BYPASS, BATCH_SIZE, RETRY_*…), every setting's default without it.
   */
  tuning?: DeliveryTuning;
}

/** An overdue item as the overdue workflow reports it. */
export interface OverdueItem {
  tenantId: string;
  key: string;
  event: string;
  dueAt: string;
  /** The notification sent about it (absent in a dry run, or when the item was closed meanwhile). */
  notificationId?: string;
}

export interface FindOverdueInput {
  /** ISO time of the run: items due before it are overdue. */
  now: string;
  repeatSeconds: number;
  tenantId?: string;
  keyPrefix?: string;
  after?: OverdueCursor;
  limit: number;
}

export interface NotifyOverdueInput {
  tenantId: string;
  key: string;
  now: string;
  repeatSeconds: number;
  tuning?: DeliveryTuning;
}

/**
 * The overdue run's idempotency key: the item, its due time and the number of whole repeat intervals
 * since then. Two runs that may both notify (a repeat interval apart) always get different keys; a
 * retried activity gets the same one and creates nothing twice.
 */
export function overdueIdempotencyKey(
  item: Pick<Deadline, 'key' | 'dueAt'>,
  now: Date,
  repeatSeconds: number,
) {
  const bucket = Math.floor((now.getTime() - Date.parse(item.dueAt)) / (repeatSeconds * 1000));
  return `overdue:${item.key}:${item.dueAt}:${bucket}`;
}

const toItem = (d: Deadline): OverdueItem => ({
  tenantId: d.tenantId,
  key: d.key,
  event: d.event,
  dueAt: d.dueAt,
});

export function createOverdueActivities(deps: OverdueActivityDeps) {
  const { db, templates } = deps;

  /** One page of open items past due and not notified within the repeat interval. Reads only. */
  async function findOverdueDeadlines(
    input: FindOverdueInput,
  ): Promise<{ items: OverdueItem[]; next: OverdueCursor | null }> {
    const now = new Date(input.now);
    const rows = await listOverdueDeadlines(
      db,
      {
        now,
        notifiedBefore: new Date(now.getTime() - input.repeatSeconds * 1000),
        tenantId: input.tenantId,
        keyPrefix: input.keyPrefix,
      },
      { limit: input.limit, after: input.after },
    );
    const last = rows[rows.length - 1];
    return {
      items: rows.map(toItem),
      next: rows.length === input.limit && last ? { tenantId: last.tenantId, key: last.key } : null,
    };
  }

  /**
   * Notifies about one overdue item exactly like the API would: a notification row (once per
   * idempotency key), its `notificationWorkflow`, then `last_notified_at`. Null when the item was
   * closed or removed since it was found.
   */
  async function notifyOverdueDeadline(
    input: NotifyOverdueInput,
  ): Promise<{ notificationId: string } | null> {
    const item = await getDeadline(db, input.tenantId, input.key);
    if (!item || item.status !== 'open') return null;
    const now = new Date(input.now);
    const request: NotificationRequest = {
      event: item.event,
      to: item.to,
      data: { ...overdueVariables(item.dueAt, now), ...item.data },
      priority: templates.manifest(item.event)?.defaultPriority ?? 'normal',
    };
    const id = randomUUID();
    const { record } = await insertNotificationOnce(db, {
      id,
      tenantId: item.tenantId,
      event: request.event,
      priority: request.priority,
      idempotencyKey: overdueIdempotencyKey(item, now, input.repeatSeconds),
      requestHash: sha256Hex(canonicalJson(request)),
      request,
      workflowId: notificationWorkflowId(id),
    });
    if (record.status === 'accepted') {
      const context = Context.current();
      await startNotificationWorkflow(deps.temporalClient ?? context.client, {
        record,
        taskQueue: deps.taskQueue ?? context.info.taskQueue,
        tuning: input.tuning ?? deps.tuning ?? DEFAULT_DELIVERY_TUNING,
        origin: 'overdue',
      });
    }
    await markDeadlineNotified(db, item.tenantId, item.key, now);
    return { notificationId: record.id };
  }

  return { findOverdueDeadlines, notifyOverdueDeadline };
}
