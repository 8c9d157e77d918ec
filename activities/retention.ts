import { deleteExpiredRuleRows } from '../db/queries/dedupe-throttle';
import type { ActivityDeps } from './notifications';

export type RetentionTable = 'inbox' | 'deliveries';

export interface RetentionBatchInput {
  table: RetentionTable;
  /** ISO time: rows older than this go (read_at for inbox messages, created_at for deliveries). */
  olderThan: string;
  batchSize: number;
}

/**
 * Deletes one batch of expired rows: read inbox messages whose read_at is before the cutoff (unread
 * ones stay, however old), or deliveries created before it. Small batches keep each transaction short.
 */
const BATCH_SQL: Record<RetentionTable, string> = {
  inbox: `DELETE FROM inbox_messages WHERE id IN (
            SELECT id FROM inbox_messages
             WHERE read_at IS NOT NULL AND read_at < $1::timestamptz
             LIMIT $2)`,
  deliveries: `DELETE FROM deliveries WHERE id IN (
                 SELECT id FROM deliveries WHERE created_at < $1::timestamptz LIMIT $2)`,
};

export function createRetentionActivities(deps: Pick<ActivityDeps, 'db'>) {
  const { db } = deps;

  /** One batch; returns how many rows it deleted (fewer than batchSize: nothing left). */
  async function deleteRetentionBatch(input: RetentionBatchInput): Promise<number> {
    // Expired dedupe claims and throttle windows go with the deliveries (a reused key would only
    // overwrite its own row); bounded, so one call stays short, and the next night takes the rest.
    if (input.table === 'deliveries') {
      for (let round = 0; round < 100; round++) {
        if ((await deleteExpiredRuleRows(db, input.batchSize)) === 0) break;
      }
    }
    const result = await db.query(BATCH_SQL[input.table], [input.olderThan, input.batchSize]);
    return result.rowCount ?? 0;
  }

  return { deleteRetentionBatch };
}
