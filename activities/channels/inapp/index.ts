import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { isDatabaseUnavailable } from '../../../db/availability';
import { withTransaction } from '../../../db/pool';
import { announceInboxMessage, insertInboxMessage } from '../../../db/queries/inbox';
import type { RenderedCard } from '../../../templates/registry';
import type { Channel, ChannelFactory, DeliveryTarget, SendFailure } from '../types';

/** A delivery the in-app channel can never make: it has no inbox to put the message in. */
export class InboxTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InboxTargetError';
  }
}

/** Database connection trouble is worth another attempt; anything else (constraints, bad data) is not. */
export function classifyInboxError(error: unknown): SendFailure {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (error instanceof InboxTargetError) return { kind: 'permanent', reason: message };
  if (code === '23503') return { kind: 'permanent', reason: 'the recipient no longer exists' };
  if (isDatabaseUnavailable(error))
    return { kind: 'transient', reason: code ? `database: ${code}: ${message}` : `database: ${message}` };
  return { kind: 'permanent', reason: message };
}

/**
 * The in-app inbox: a send is a row in `inbox_messages` plus a `pg_notify` in the same transaction,
 * which the API's live streams turn into Server-Sent Events. A retried send finds the message the
 * first attempt wrote and reports its id again, so an inbox never shows a notification twice.
 */
export function createInappChannel(db: Pool, concurrency = 5): Channel<RenderedCard> {
  return {
    name: 'inapp',
    concurrency,
    render: (templates, event, context) => templates.renderInapp(event, context),
    async send(target: DeliveryTarget, content: RenderedCard) {
      const externalId = target.externalId;
      if (!externalId) throw new InboxTargetError('in-app needs a recipient');
      const id = await withTransaction(db, async (client) => {
        const message = await insertInboxMessage(client, {
          id: randomUUID(),
          tenantId: target.tenantId,
          externalId,
          notificationId: target.notificationId,
          event: target.event,
          title: content.title,
          body: content.body,
          url: content.url,
        });
        if (message.created) {
          await announceInboxMessage(client, { tenantId: target.tenantId, externalId, id: message.id });
        }
        return message.id;
      });
      return { providerMessageId: id };
    },
    classify: classifyInboxError,
  };
}

/** Always on: the inbox lives in Herald's own database. */
export const inappChannelFactory: ChannelFactory = ({ db }) => ({
  channel: createInappChannel(db),
  report: 'inapp: on (PostgreSQL)',
  close: () => undefined,
});
