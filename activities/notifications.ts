import { createFailoverSteps } from './notification/failover';
import { createFinishSteps } from './notification/finish';
import { createResolveSteps } from './notification/resolve';
import { createSendBatch } from './notification/send-batch';
import { createResolveAudience } from './notification/small-audience';
import { stepContext, type ActivityDeps } from './notification/deps';

export type { ActivityDeps } from './notification/deps';
export type { PrepareInput, PrepareResult, RangesPageInput, ResolvedLevel } from './notification/resolve';
export type { ResolveAudienceInput, ResolvedAudience } from './notification/small-audience';
export type { SendBatchInput, SendBatchResult } from './notification/send-batch';
export { selectChannels } from './notification/resolve';

/**
 * A notification's activities, one file per step under notification/: resolve the audience (and send
 * a small one at once), page its batches, send a batch, wake failover links, finish or cancel.
 */
export function createNotificationActivities(deps: ActivityDeps) {
  const step = stepContext(deps);
  const { prepareDeliveries, openRangesPage } = createResolveSteps(step);
  const { resolveAudience } = createResolveAudience(step);
  const { sendBatch } = createSendBatch(step);
  const { wakeFailover, wakeFailoverStandbys } = createFailoverSteps(step);
  return {
    resolveAudience,
    openRangesPage,
    sendBatch,
    wakeFailoverStandbys,
    ...createFinishSteps(step),
    // Runs started before paged fan-out (and late failover) still call these.
    prepareDeliveries,
    wakeFailover,
  };
}
