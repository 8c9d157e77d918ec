import { createNotificationActivities, type ActivityDeps } from './notifications';

export type { ActivityDeps } from './notifications';

/** Every activity of the worker, bound to its dependencies (the composition root is worker/). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createNotificationActivities(deps),
  };
}

export type HeraldActivities = ReturnType<typeof createActivities>;
