/** One inbox message as the API answers it (InboxMessage in /openapi.json). */
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

export interface InboxPage {
  items: InboxMessage[];
  nextCursor: string | null;
  unreadCount: number;
}

/** Who an end-user token belongs to (GET /v1/me). */
export interface EndUser {
  kind: 'end_user';
  externalId: string;
  tenantId: string;
  expiresAt: string;
}
