import { openDeliveryRanges } from '../../db/queries/deliveries';
import { failoverChains, wakeStandbys } from '../../db/queries/policies';
import type { IdRange } from '../../common/types';
import { nextInChain } from '../policies';
import type { StepContext } from './deps';

export function createFailoverSteps({ deps: { db } }: StepContext) {
  /** Wakes the next link of each failover chain whose current link failed for good; how many woke. */
  async function wakeNextInChains(notificationId: string, level: number): Promise<string[]> {
    const chains = await failoverChains(db, notificationId, level);
    const wakes = chains.flatMap((chain) => nextInChain(chain) ?? []);
    await wakeStandbys(db, wakes);
    return wakes.map((w) => w.id);
  }

  /**
   * After a round of sends (runs started before paging, and late failover): wakes the chains' next
   * links and returns the batches of the woken deliveries.
   */
  async function wakeFailover(input: {
    notificationId: string;
    level: number;
    batchSize: number;
  }): Promise<{ ranges: IdRange[] }> {
    const woken = await wakeNextInChains(input.notificationId, input.level);
    if (woken.length === 0) return { ranges: [] };
    const { ranges } = await openDeliveryRanges(
      db,
      input.notificationId,
      input.batchSize,
      input.level,
      woken,
    );
    return { ranges };
  }

  /** After a round of sends (paged runs): wakes the chains' next links; the workflow pages them after. */
  async function wakeFailoverStandbys(input: {
    notificationId: string;
    level: number;
  }): Promise<{ woken: number }> {
    return { woken: (await wakeNextInChains(input.notificationId, input.level)).length };
  }

  return { wakeNextInChains, wakeFailover, wakeFailoverStandbys };
}
