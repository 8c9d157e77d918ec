import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Pool } from 'pg';
import {
  archiveInboxMessage,
  countUnreadInboxMessages,
  deleteInboxMessage,
  getInboxMessage,
  listInboxMessages,
  listInboxMessagesAfter,
  markAllInboxMessagesRead,
  markInboxMessageRead,
  markInboxMessageUnread,
  unarchiveInboxMessage,
  type InboxKey,
  type InboxMessage,
} from '../../db/queries/inbox';
import { getRecipient } from '../../db/queries/recipients';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError, notFound } from '../errors';
import { inboxStreamFor } from '../inbox-stream';
import { errorResponse, identifier, jsonResponse, uuidParam } from '../schemas';
import { decodeCursor, encodeCursor, isTimeIdCursor } from '../services/notifications';

/** A comment line every so often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** At most this many missed messages are replayed on reconnection; a client missing more reloads the list. */
const CATCH_UP_LIMIT = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const InboxMessageSchema = z
  .object({
    id: z.string().uuid(),
    event: z.string().openapi({ example: 'ticket.assigned' }),
    title: z.string(),
    body: z.string(),
    url: z.string().nullable(),
    createdAt: z.string(),
    readAt: z.string().nullable(),
    archivedAt: z.string().nullable(),
    notificationId: z.string().nullable(),
  })
  .openapi('InboxMessage');

const UnreadCountSchema = z.object({ unreadCount: z.number().int() }).openapi('InboxUnreadCount');

const recipientParams = z.object({ externalId: identifier('externalId', 'tech-42') });
const messageParams = z.object({
  externalId: identifier('externalId', 'tech-42'),
  messageId: uuidParam('messageId', 'not an inbox message id'),
});

const flag = (description: string) =>
  z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .openapi({ type: 'string', enum: ['true', 'false'], description });

const listRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/inbox',
    tags: ['inbox'],
    summary: "A recipient's inbox, newest first",
    request: {
      params: recipientParams,
      query: z.object({
        unread: flag('true: only messages not read yet'),
        archived: flag('true: only archived messages; false (the default): only messages not archived'),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z.string().optional().openapi({ description: 'nextCursor of the previous page' }),
      }),
    },
    responses: {
      200: jsonResponse(
        z
          .object({
            items: z.array(InboxMessageSchema),
            nextCursor: z.string().nullable(),
            unreadCount: z.number().int(),
          })
          .openapi('InboxPage'),
        'A page of messages and the unread count',
      ),
      400: errorResponse('Bad query or cursor'),
      404: errorResponse('No such recipient'),
    },
  },
);

const unreadCountRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/inbox/unread-count',
    tags: ['inbox'],
    summary: 'How many messages the inbox shows unread (archived ones are not counted)',
    request: { params: recipientParams },
    responses: {
      200: jsonResponse(UnreadCountSchema, 'The unread count'),
      404: errorResponse('No such recipient'),
    },
  },
);

const readAllRoute = securedRoute(
  { scope: 'manage', endUser: true },
  {
    method: 'post',
    path: '/v1/recipients/{externalId}/inbox/read-all',
    tags: ['inbox'],
    summary: 'Mark every unread message the inbox shows (not archived) read',
    request: { params: recipientParams },
    responses: {
      200: jsonResponse(
        z.object({ updated: z.number().int() }).openapi('InboxReadAll'),
        'How many messages were marked read',
      ),
      404: errorResponse('No such recipient'),
    },
  },
);

const streamRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/inbox/stream',
    tags: ['inbox'],
    summary: 'Live inbox (Server-Sent Events)',
    description:
      '`event: ready` with `{"unreadCount": n}` on connect, then `event: message` with the message (its id as the event id) ' +
      `for each new message, and a comment line every ${HEARTBEAT_MS / 1000} s. A client reconnecting with ` +
      `\`Last-Event-ID\` first receives the messages that arrived since (at most ${CATCH_UP_LIMIT}).`,
    request: {
      params: recipientParams,
      headers: z.object({
        'last-event-id': z
          .string()
          .optional()
          .openapi({
            param: { name: 'last-event-id', in: 'header' },
            description: 'The last message id seen',
          }),
      }),
    },
    responses: {
      200: { content: { 'text/event-stream': { schema: z.string() } }, description: 'The event stream' },
      404: errorResponse('No such recipient'),
      429: errorResponse(
        'Rate limit reached, or MAX_SSE_STREAMS_PER_RECIPIENT streams of this recipient are open (`too_many_streams`)',
      ),
      503: errorResponse('The live stream cannot reach the database now'),
    },
  },
);

const messageRoute = (action: 'read' | 'unread' | 'archive' | 'unarchive', summary: string) =>
  securedRoute(
    { scope: 'manage', endUser: true },
    {
      method: 'post',
      path: `/v1/recipients/{externalId}/inbox/{messageId}/${action}`,
      tags: ['inbox'],
      summary,
      request: { params: messageParams },
      responses: {
        200: jsonResponse(InboxMessageSchema, 'The message'),
        400: errorResponse('Malformed message id'),
        404: errorResponse('No such message'),
      },
    },
  );

const deleteRoute = securedRoute(
  { scope: 'manage', endUser: true },
  {
    method: 'delete',
    path: '/v1/recipients/{externalId}/inbox/{messageId}',
    tags: ['inbox'],
    summary: 'Delete a message',
    request: { params: messageParams },
    responses: {
      204: { description: 'Deleted' },
      400: errorResponse('Malformed message id'),
      404: errorResponse('No such message'),
    },
  },
);

async function requireRecipient(db: Pool, tenantId: string, externalId: string): Promise<void> {
  if (!(await getRecipient(db, tenantId, externalId))) throw notFound(`recipient ${externalId}`);
}

const found = (message: InboxMessage | null, messageId: string): InboxMessage => {
  if (!message) throw notFound(`inbox message ${messageId}`);
  return message;
};

export const inboxRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const { unread, archived, limit, cursor } = c.req.valid('query');
    const { db } = c.var.deps;
    const tenantId = c.var.tenantId;
    const decoded = cursor ? decodeCursor(cursor, isTimeIdCursor) : undefined;
    const before: InboxKey | undefined = decoded ? { createdAt: decoded.t, id: decoded.id } : undefined;
    await requireRecipient(db, tenantId, externalId);
    const [page, unreadCount] = await Promise.all([
      listInboxMessages(db, tenantId, externalId, { unread, archived }, { limit, before }),
      countUnreadInboxMessages(db, tenantId, externalId),
    ]);
    return c.json(
      {
        items: page.items,
        nextCursor: page.next ? encodeCursor({ t: page.next.createdAt, id: page.next.id }) : null,
        unreadCount,
      },
      200,
    );
  })
  .openapi(unreadCountRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    await requireRecipient(c.var.deps.db, c.var.tenantId, externalId);
    return c.json(
      { unreadCount: await countUnreadInboxMessages(c.var.deps.db, c.var.tenantId, externalId) },
      200,
    );
  })
  .openapi(readAllRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    await requireRecipient(c.var.deps.db, c.var.tenantId, externalId);
    return c.json(
      { updated: await markAllInboxMessagesRead(c.var.deps.db, c.var.tenantId, externalId) },
      200,
    );
  })
  .openapi(streamRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const lastEventId = c.req.valid('header')['last-event-id']?.trim();
    await requireRecipient(c.var.deps.db, c.var.tenantId, externalId);
    return openLiveInbox(c, externalId, lastEventId && UUID.test(lastEventId) ? lastEventId : null);
  })
  .openapi(messageRoute('read', 'Mark a message read'), async (c) => {
    const { messageId, externalId } = c.req.valid('param');
    const owner = { tenantId: c.var.tenantId, externalId };
    return c.json(found(await markInboxMessageRead(c.var.deps.db, owner, messageId), messageId), 200);
  })
  .openapi(messageRoute('unread', 'Mark a message unread'), async (c) => {
    const { messageId, externalId } = c.req.valid('param');
    const owner = { tenantId: c.var.tenantId, externalId };
    return c.json(found(await markInboxMessageUnread(c.var.deps.db, owner, messageId), messageId), 200);
  })
  .openapi(messageRoute('archive', 'Archive a message (it leaves the default list)'), async (c) => {
    const { messageId, externalId } = c.req.valid('param');
    const owner = { tenantId: c.var.tenantId, externalId };
    return c.json(found(await archiveInboxMessage(c.var.deps.db, owner, messageId), messageId), 200);
  })
  .openapi(messageRoute('unarchive', 'Bring an archived message back to the inbox'), async (c) => {
    const { messageId, externalId } = c.req.valid('param');
    const owner = { tenantId: c.var.tenantId, externalId };
    return c.json(found(await unarchiveInboxMessage(c.var.deps.db, owner, messageId), messageId), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { messageId, externalId } = c.req.valid('param');
    const owner = { tenantId: c.var.tenantId, externalId };
    if (!(await deleteInboxMessage(c.var.deps.db, owner, messageId)))
      throw notFound(`inbox message ${messageId}`);
    return c.body(null, 204);
  });

/**
 * Streams one recipient's new messages. The subscription is in place (and the LISTEN connection up)
 * before the response starts, so nothing delivered after `ready` is missed; events are written one at
 * a time in order: `ready`, any replay, then live messages as they are announced.
 */
async function openLiveInbox(c: Context<AppEnv>, externalId: string, resumeFrom: string | null) {
  const { db } = c.var.deps;
  const tenantId = c.var.tenantId;
  const live = inboxStreamFor(db);
  // Checked and taken with no await in between, so concurrent opens cannot pass the cap together.
  const maxStreams = c.var.deps.config.MAX_SSE_STREAMS_PER_RECIPIENT;
  if (live.subscribersOf(tenantId, externalId) >= maxStreams) {
    throw new HttpError(
      429,
      'too_many_streams',
      `recipient ${externalId} has ${maxStreams} live inbox streams open on this API process, the most allowed (MAX_SSE_STREAMS_PER_RECIPIENT); close one first`,
      [{ path: 'externalId', message: `at most ${maxStreams} open streams per recipient` }],
    );
  }

  let out: SSEStreamingApi | null = null;
  // Work waits behind this gate until `ready` has been written.
  let openGate!: () => void;
  let queue = new Promise<void>((resolve) => (openGate = resolve));
  const enqueue = (work: () => Promise<unknown>) => {
    queue = queue.then(work).then(
      () => undefined,
      () => undefined,
    );
  };
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const recent = new RecentIds(500);
  // Where a catch-up starts: the last message sent, else the moment the stream opened.
  let anchor: { id: string } | { time: Date } = resumeFrom ? { id: resumeFrom } : { time: new Date() };
  const send = async (message: InboxMessage) => {
    if (!out || recent.has(message.id)) return;
    recent.add(message.id);
    anchor = { id: message.id };
    await out.writeSSE({ event: 'message', id: message.id, data: JSON.stringify(message) });
  };
  const sendById = async (id: string) => {
    const message = await getInboxMessage(db, tenantId, id);
    if (message) await send(message);
  };
  const catchUp = async () => {
    for (const message of await listInboxMessagesAfter(db, tenantId, externalId, anchor, CATCH_UP_LIMIT))
      await send(message);
  };

  const unavailable = () =>
    new HttpError(503, 'stream_unavailable', 'the live inbox cannot reach the database now; retry shortly');
  let unsubscribe: () => void;
  try {
    unsubscribe = live.subscribe(tenantId, externalId, (id) => enqueue(() => sendById(id)), {
      resync: () => enqueue(catchUp),
      closed: finish,
    });
  } catch {
    throw unavailable();
  }
  try {
    await live.listening();
  } catch {
    unsubscribe();
    throw unavailable();
  }

  return streamSSE(c, async (stream) => {
    out = stream;
    stream.onAbort(finish);
    c.req.raw.signal.addEventListener('abort', finish);
    if (stream.aborted || c.req.raw.signal.aborted) finish();
    const heartbeat = setInterval(() => enqueue(() => stream.write(': heartbeat\n\n')), HEARTBEAT_MS);
    try {
      const unreadCount = await countUnreadInboxMessages(db, tenantId, externalId);
      await stream.writeSSE({ event: 'ready', data: JSON.stringify({ unreadCount }), retry: 3000 });
      if (resumeFrom) await catchUp();
      openGate();
      await finished;
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
      openGate();
      out = null;
    }
  });
}

/** The last `max` ids seen, so a message replayed and announced at once is sent once. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
  }
}
