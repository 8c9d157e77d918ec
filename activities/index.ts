import { createDigestActivities } from './digest';
import { createNotificationActivities, type ActivityDeps } from './notifications';
import { createOverdueActivities, type OverdueActivityDeps } from './overdue';
import { createRetentionActivities } from './retention';

export type { ActivityDeps } from './notifications';

/** Every activity of the worker, bound to its dependencies (the composition root is worker/). */
export function createActivities(deps: ActivityDeps & Pick<OverdueActivityDeps, 'tuning'>) {
  return {
    ...createNotificationActivities(deps),
    ...createDigestActivities(deps),
    ...createOverdueActivities(deps),
    ...createRetentionActivities(deps),
  };
}

export type HeraldActivities = ReturnType<typeof createActivities>;
