import type { Pool } from 'pg';
import type { UnsubscribeLinkSettings } from '../../common/unsubscribe-token';
import { silentLogger, type Logger } from '../../common/logger';
import { workerMetrics, type WorkerMetrics } from '../../common/metrics';
import type { TemplateRegistry } from '../../templates/registry';
import type { ChannelRegistry } from '../channels/types';
import { Context } from '@temporalio/activity';

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
  /** Where activities write their log lines, at the worker's LOG_LEVEL (worker/main.ts); silent if not given. */
  log?: Logger;
}

/** What every step of a notification's activities shares: its dependencies, metrics and logger. */
export interface StepContext {
  deps: ActivityDeps;
  metrics: WorkerMetrics;
  log: Logger;
}

export function stepContext(deps: ActivityDeps): StepContext {
  return { deps, metrics: deps.metrics ?? workerMetrics(), log: deps.log ?? silentLogger() };
}

/** The workflow that scheduled the running activity, for log lines; none outside an activity. */
export function currentWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}
