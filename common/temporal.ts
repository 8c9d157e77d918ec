import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AckResult, CancelResult, NotificationProgress } from './types';

/** The task queue every Herald worker polls unless told otherwise. */
export const DEFAULT_TASK_QUEUE = 'herald';

export const notificationWorkflowId = (notificationId: string): string => `notification-${notificationId}`;

export const SEARCH_ATTRIBUTES = {
  event: defineSearchAttributeKey('HeraldEvent', SearchAttributeType.KEYWORD),
  tenant: defineSearchAttributeKey('HeraldTenant', SearchAttributeType.KEYWORD),
  priority: defineSearchAttributeKey('HeraldPriority', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('HeraldStatus', SearchAttributeType.KEYWORD),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SEARCH_ATTRIBUTES);

/** Flags for `temporal server start-dev` that register Herald's search attributes. */
export const devServerSearchAttributeArgs = (): string[] =>
  ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);

export const notificationStateQuery = defineQuery<NotificationProgress>('state');

/** Acknowledges a notification: stops its escalation. Answers at once whether it was accepted. */
export const ackUpdate = defineUpdate<AckResult, [{ by: string }]>('ack');

/** Cancels a notification: every pending batch, escalation level and retry stops. */
export const cancelUpdate = defineUpdate<CancelResult, []>('cancel');
