import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { NotificationProgress } from './types';

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
