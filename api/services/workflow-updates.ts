import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

/** Tries of an update that met a run continuing as new (each continued run is a new target). */
const TRIES = 4;

/**
 * Sends an update to a workflow's current run. A notification continues as new as its history
 * grows, and an update that reaches a run just as it continues fails although the notification
 * goes on: it is sent again to the next run while the workflow still runs.
 */
export async function updateCurrentRun<Ret, Args extends unknown[]>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, Args>,
  args: Args,
): Promise<Ret> {
  for (let attempt = 1; ; attempt++) {
    try {
      // The handle's overloads cannot see through a generic tuple of arguments.
      const execute = handle.executeUpdate as (u: unknown, o: { args: unknown[] }) => Promise<Ret>;
      return await execute.call(handle, update, { args });
    } catch (error) {
      if (attempt >= TRIES) throw error;
      const running = await handle
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false);
      if (!running) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
