import type { Queryable } from './recipients';

/** The PostgreSQL NOTIFY channel on which a new inbox message is announced (payload: {@link InboxAnnouncement}). */
export const INBOX_NOTIFY_CHANNEL = 'herald_inbox';

/** What `pg_notify` carries for a new message: enough to route it, never its content. */
export interface InboxAnnouncement {
  tenantId: string;
  externalId: string;
  id: string;
}

/** One message in a recipient's in-app inbox. */
export interface InboxMessage {
  id: string;
  event: string;
  title: string;
  body: string;
  url: string | null;
  createdAt: string;
  readAt: string | null;
  archivedAt: string | null;
  notificationId: string | null;
}

/**
 * A position in an inbox, newest first. `createdAt` keeps PostgreSQL's microseconds (an ISO string),
 * which a JavaScript Date would round away and so skip or repeat rows across pages.
 */
export interface InboxKey {
  createdAt: string;
  id: string;
}

interface InboxRow {
  id: string;
  event: string;
  title: string;
  body: string;
  url: string | null;
  created_at: Date;
  read_at: Date | null;
  archived_at: Date | null;
  notification_id: string | null;
  created_key: string;
}

const toMessage = (row: InboxRow): InboxMessage => ({
  id: row.id,
  event: row.event,
  title: row.title,
  body: row.body,
  url: row.url,
  createdAt: row.created_at.toISOString(),
  readAt: row.read_at?.toISOString() ?? null,
  archivedAt: row.archived_at?.toISOString() ?? null,
  notificationId: row.notification_id,
});

const COLUMNS = `m.id, m.event, m.title, m.body, m.url, m.created_at, m.read_at, m.archived_at, m.notification_id,
  to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key`;

export interface NewInboxMessage {
  id: string;
  tenantId: string;
  externalId: string;
  /** Null for messages of no notification (an in-app digest). */
  notificationId: string | null;
  event: string;
  title: string;
  body: string;
  url: string | null;
}

/**
 * Adds a message unless this notification already put one in this recipient's inbox: a retried send
 * gets the id of the first message back (`created: false`) and adds nothing.
 */
export async function insertInboxMessage(
  db: Queryable,
  m: NewInboxMessage,
): Promise<{ id: string; created: boolean }> {
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO inbox_messages (id, tenant_id, external_id, notification_id, event, title, body, url)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (notification_id, external_id) DO NOTHING
     RETURNING id`,
    [m.id, m.tenantId, m.externalId, m.notificationId, m.event, m.title, m.body, m.url],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, created: true };
  const existing = await db.query<{ id: string }>(
    `SELECT id FROM inbox_messages WHERE tenant_id = $1 AND external_id = $2 AND notification_id = $3`,
    [m.tenantId, m.externalId, m.notificationId],
  );
  if (!existing.rows[0]) {
    throw new Error(
      `inbox message of notification ${m.notificationId} for ${m.externalId} conflicts but belongs to another tenant`,
    );
  }
  return { id: existing.rows[0].id, created: false };
}

/** Announces a new message to the API processes' live streams; sent when the transaction commits. */
export async function announceInboxMessage(db: Queryable, a: InboxAnnouncement): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [
    INBOX_NOTIFY_CHANNEL,
    JSON.stringify({ tenantId: a.tenantId, externalId: a.externalId, id: a.id } satisfies InboxAnnouncement),
  ]);
}

export interface InboxFilter {
  /** Only messages not read yet. */
  unread?: boolean;
  /** true: only archived messages; false (the default): only messages not archived. */
  archived?: boolean;
}

/** One page of a recipient's inbox, newest first; `next` is where the following page starts. */
export async function listInboxMessages(
  db: Queryable,
  tenantId: string,
  externalId: string,
  filter: InboxFilter,
  page: { limit: number; before?: InboxKey },
): Promise<{ items: InboxMessage[]; next: InboxKey | null }> {
  const result = await db.query<InboxRow>(
    `SELECT ${COLUMNS} FROM inbox_messages m
      WHERE m.tenant_id = $1 AND m.external_id = $2
        AND (NOT $3::boolean OR m.read_at IS NULL)
        AND (m.archived_at IS NOT NULL) = $4::boolean
        AND ($5::timestamptz IS NULL OR (m.created_at, m.id) < ($5::timestamptz, $6::uuid))
      ORDER BY m.created_at DESC, m.id DESC LIMIT $7`,
    [
      tenantId,
      externalId,
      filter.unread ?? false,
      filter.archived ?? false,
      page.before?.createdAt ?? null,
      page.before?.id ?? null,
      page.limit + 1,
    ],
  );
  const rows = result.rows.slice(0, page.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(toMessage),
    next: result.rows.length > page.limit && last ? { createdAt: last.created_key, id: last.id } : null,
  };
}

/**
 * Messages that arrived after `after` (oldest first), for a live stream catching up after a
 * reconnection; archived ones are left out. `after` is a message id, or a time when no message
 * has been seen yet. A deleted `after` message yields nothing.
 */
export async function listInboxMessagesAfter(
  db: Queryable,
  tenantId: string,
  externalId: string,
  after: { id: string } | { time: Date },
  limit: number,
): Promise<InboxMessage[]> {
  const result = await db.query<InboxRow>(
    `SELECT ${COLUMNS} FROM inbox_messages m
      WHERE m.tenant_id = $1 AND m.external_id = $2 AND m.archived_at IS NULL
        AND CASE WHEN $3::uuid IS NOT NULL THEN
              (m.created_at, m.id) > (SELECT a.created_at, a.id FROM inbox_messages a
                                        WHERE a.id = $3::uuid AND a.tenant_id = $1 AND a.external_id = $2)
            ELSE m.created_at > $4::timestamptz END
      ORDER BY m.created_at, m.id LIMIT $5`,
    [tenantId, externalId, 'id' in after ? after.id : null, 'time' in after ? after.time : null, limit],
  );
  return result.rows.map(toMessage);
}

export async function getInboxMessage(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<InboxMessage | null> {
  const result = await db.query<InboxRow>(
    `SELECT ${COLUMNS} FROM inbox_messages m WHERE m.tenant_id = $1 AND m.id = $2`,
    [tenantId, id],
  );
  return result.rows[0] ? toMessage(result.rows[0]) : null;
}

/** Unread messages the inbox shows (archived ones are not counted). */
export async function countUnreadInboxMessages(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<number> {
  const result = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM inbox_messages
      WHERE tenant_id = $1 AND external_id = $2 AND read_at IS NULL AND archived_at IS NULL`,
    [tenantId, externalId],
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** Whose inbox: actions on a message are bound to its recipient, so an id alone opens nothing. */
export interface InboxOwner {
  tenantId: string;
  externalId: string;
}

async function updateOne(
  db: Queryable,
  owner: InboxOwner,
  id: string,
  set: string,
): Promise<InboxMessage | null> {
  const result = await db.query<InboxRow>(
    `UPDATE inbox_messages m SET ${set}
      WHERE m.tenant_id = $1 AND m.external_id = $2 AND m.id = $3 RETURNING ${COLUMNS}`,
    [owner.tenantId, owner.externalId, id],
  );
  return result.rows[0] ? toMessage(result.rows[0]) : null;
}

/** Marks one message read (keeping the first read time); null when this recipient has no such message. */
export const markInboxMessageRead = (db: Queryable, owner: InboxOwner, id: string) =>
  updateOne(db, owner, id, 'read_at = COALESCE(m.read_at, now())');

export const markInboxMessageUnread = (db: Queryable, owner: InboxOwner, id: string) =>
  updateOne(db, owner, id, 'read_at = NULL');

export const archiveInboxMessage = (db: Queryable, owner: InboxOwner, id: string) =>
  updateOne(db, owner, id, 'archived_at = COALESCE(m.archived_at, now())');

export const unarchiveInboxMessage = (db: Queryable, owner: InboxOwner, id: string) =>
  updateOne(db, owner, id, 'archived_at = NULL');

/** Marks every unread message the inbox shows (not archived) read; returns how many changed. */
export async function markAllInboxMessagesRead(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<number> {
  const result = await db.query(
    `UPDATE inbox_messages SET read_at = now()
      WHERE tenant_id = $1 AND external_id = $2 AND read_at IS NULL AND archived_at IS NULL`,
    [tenantId, externalId],
  );
  return result.rowCount ?? 0;
}

/** Deletes one message; false when this recipient has no such message. */
export async function deleteInboxMessage(db: Queryable, owner: InboxOwner, id: string): Promise<boolean> {
  const result = await db.query(
    'DELETE FROM inbox_messages WHERE tenant_id = $1 AND external_id = $2 AND id = $3',
    [owner.tenantId, owner.externalId, id],
  );
  return (result.rowCount ?? 0) > 0;
}
