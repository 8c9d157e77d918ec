import type { EndUser, InboxMessage, InboxPage } from './types';

/** The API's answer was not a success: its status and, when the body is our JSON error, its code. */
export class InboxApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'InboxApiError';
  }
}

export type MessageAction = 'read' | 'unread' | 'archive' | 'unarchive';

export interface LiveHandlers {
  ready: (unreadCount: number) => void;
  message: (message: InboxMessage) => void;
  /** The stream gave up (EventSource closed it: a refused token, a refused origin, the API gone). */
  closed: () => void;
}

/**
 * The inbox routes of the Herald API, as one person's end-user token sees them. Every request
 * carries the token as a bearer header; only the live stream takes it as `?token=`, because
 * EventSource cannot send headers.
 */
export class InboxClient {
  private readonly base: string;
  private externalId: string | null = null;

  constructor(
    apiBase: string,
    private readonly token: string,
  ) {
    this.base = apiBase.replace(/\/+$/, '');
  }

  /** The token's person; learnt once from GET /v1/me. */
  async me(signal?: AbortSignal): Promise<EndUser> {
    const me = await this.request<EndUser>('GET', '/v1/me', signal);
    if (me.kind !== 'end_user')
      throw new InboxApiError(400, 'not_end_user', 'the token is no end-user token');
    this.externalId = me.externalId;
    return me;
  }

  list(options: { cursor?: string | null; limit?: number } = {}, signal?: AbortSignal): Promise<InboxPage> {
    const query = new URLSearchParams({ limit: String(options.limit ?? 20) });
    if (options.cursor) query.set('cursor', options.cursor);
    return this.request<InboxPage>('GET', `${this.inboxPath()}?${query}`, signal);
  }

  async unreadCount(signal?: AbortSignal): Promise<number> {
    return (await this.request<{ unreadCount: number }>('GET', `${this.inboxPath()}/unread-count`, signal))
      .unreadCount;
  }

  act(messageId: string, action: MessageAction): Promise<InboxMessage> {
    return this.request<InboxMessage>(
      'POST',
      `${this.inboxPath()}/${encodeURIComponent(messageId)}/${action}`,
    );
  }

  async readAll(): Promise<number> {
    return (await this.request<{ updated: number }>('POST', `${this.inboxPath()}/read-all`)).updated;
  }

  /** Opens the live stream; EventSource reconnects by itself (with Last-Event-ID) after a drop. */
  live(handlers: LiveHandlers): () => void {
    const url = `${this.base}${this.inboxPath()}/stream?token=${encodeURIComponent(this.token)}`;
    const source = new EventSource(url);
    source.addEventListener('ready', (event) => {
      const data = parse<{ unreadCount?: unknown }>((event as MessageEvent<string>).data);
      if (typeof data?.unreadCount === 'number') handlers.ready(data.unreadCount);
    });
    source.addEventListener('message', (event) => {
      const message = parse<InboxMessage>((event as MessageEvent<string>).data);
      if (message && typeof message.id === 'string') handlers.message(message);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) handlers.closed();
    });
    return () => source.close();
  }

  private inboxPath(): string {
    if (this.externalId === null) throw new Error('call me() first');
    return `/v1/recipients/${encodeURIComponent(this.externalId)}/inbox`;
  }

  private async request<T>(method: string, path: string, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
        // The token is the credential: no cookies of the API's origin go along.
        credentials: 'omit',
        signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      // CORS refusals and unreachable servers look the same to a page: a TypeError and no response.
      throw new InboxApiError(0, 'network', 'the notification service cannot be reached from this page');
    }
    const body = parse<unknown>(await response.text());
    if (!response.ok) {
      const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      throw new InboxApiError(
        response.status,
        typeof error?.code === 'string' ? error.code : 'http_error',
        typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`,
      );
    }
    return body as T;
  }
}

function parse<T>(text: string): T | null {
  try {
    return text ? (JSON.parse(text) as T) : null;
  } catch {
    return null;
  }
}
