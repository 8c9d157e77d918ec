/** `herald explain <notification> <recipient>`: the explain story, read from the database. */
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { explainNotification, type AckLookup } from '../../api/services/explain';
import { temporalAcknowledgement } from '../../api/services/explain-ack';
import { tenantOfNotification } from '../../db/queries/explain';
import { checkTenant, expectArgs, inputError, printJson, withDatabase, type Args } from './cli';

export const EXPLAIN_USAGE = `  explain <notification> <recipient> [--tenant <id>] [--json]
                                  why a person (externalId, email or phone) was or was not told about a
                                  notification: resolution, each channel's decision, attempts, escalation`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The acknowledgement from Temporal (TEMPORAL_ADDRESS), asked only for a notification that
 * escalates; 'unknown' when Temporal cannot be reached, so the rest of the story still prints.
 */
function cliAcknowledgement(): { lookup: AckLookup; close(): Promise<void> } {
  let connection: Connection | null = null;
  return {
    lookup: async (record) => {
      const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
      try {
        connection = await Connection.connect({ address, connectTimeout: 2_000 });
      } catch {
        return 'unknown';
      }
      const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
      return temporalAcknowledgement(client)(record);
    },
    close: async () => {
      await connection?.close();
    },
  };
}

export async function runExplain(args: Args): Promise<void> {
  expectArgs(args, 'explain', 2, ['--tenant', '--json']);
  const [id, recipient] = args.positionals as [string, string];
  if (!UUID.test(id)) throw inputError(`explain: "${id}" is not a notification id (a UUID)`);
  const ack = cliAcknowledgement();
  try {
    await withDatabase(async (pool: Pool) => {
      const given = args.values.get('--tenant');
      const tenantId =
        given === undefined ? await tenantOfNotification(pool, id) : await checkTenant(pool, given);
      if (tenantId === null) throw inputError(`explain: no notification ${id}`);
      const story = await explainNotification(pool, tenantId, id, recipient, ack.lookup).catch(
        (error: unknown) => {
          if ((error as { status?: number }).status === 404)
            throw inputError(`explain: no notification ${id} in tenant ${tenantId}`);
          throw error;
        },
      );
      if (args.flags.has('--json')) printJson(story);
      else console.log(story.story.join('\n'));
    });
  } finally {
    await ack.close();
  }
}
