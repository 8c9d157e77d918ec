import { Client, type Notification, type Pool } from 'pg';
import { INBOX_NOTIFY_CHANNEL, type InboxAnnouncement } from '../db/queries/inbox';

/** The part of a pg Client the stream uses (tests may pass a stand-in). */
export type ListenClient = Pick<Client, 'connect' | 'query' | 'end' | 'on'>;

export interface InboxSubscriberEvents {
  /**
   * The LISTEN connection was lost and is back: announcements made meanwhile were missed, so the
   * subscriber should catch up from the database.
   */
  resync?: () => void;
  /** The stream was closed (the API is shutting down): the subscriber should end. */
  closed?: () => void;
}

interface Subscriber extends InboxSubscriberEvents {
  onMessageId: (id: string) => void;
}

export interface InboxStreamOptions {
  /** First delay before reconnecting a lost LISTEN connection; doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * Fans the database's inbox announcements out to this process's live streams. One LISTEN connection
 * per process, opened on the first subscriber and closed after the last leaves; a lost connection is
 * reopened (with backoff) while anyone is subscribed, and subscribers are told to catch up.
 */
export class InboxStream {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private client: ListenClient | null = null;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs: number;
  private lostConnection = false;
  private closed = false;

  constructor(
    private readonly createClient: () => ListenClient,
    private readonly options: InboxStreamOptions = {},
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 250;
  }

  /** How many subscribers are listening, across all recipients. */
  get size(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }

  /** How many live streams this process holds open for one recipient. */
  subscribersOf(tenantId: string, externalId: string): number {
    return this.subscribers.get(recipientKey(tenantId, externalId))?.size ?? 0;
  }

  /**
   * Calls `onMessageId` with the id of each new message in this recipient's inbox, from the moment
   * {@link listening} resolves. Returns the function that ends the subscription.
   */
  subscribe(
    tenantId: string,
    externalId: string,
    onMessageId: (id: string) => void,
    events: InboxSubscriberEvents = {},
  ): () => void {
    if (this.closed) throw new Error('the inbox stream is closed');
    const key = recipientKey(tenantId, externalId);
    const subscriber: Subscriber = { onMessageId, ...events };
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(subscriber);
    void this.listening().catch(() => this.scheduleReconnect());
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const current = this.subscribers.get(key);
      current?.delete(subscriber);
      if (current?.size === 0) this.subscribers.delete(key);
      if (this.subscribers.size === 0) void this.disconnect();
    };
  }

  /** Resolves once the LISTEN is in place (rejects if the database cannot be reached now). */
  listening(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the inbox stream is closed'));
    if (this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Ends every subscription and the LISTEN connection, for good (API shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const subscribers = [...this.subscribers.values()].flatMap((set) => [...set]);
    this.subscribers.clear();
    for (const s of subscribers) safely(() => s.closed?.());
    await this.disconnect();
    await this.connecting?.catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = this.createClient();
    // Without an error listener a dropped connection would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message: Notification) => this.dispatch(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${INBOX_NOTIFY_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed || this.subscribers.size === 0) {
      // Everyone left (or the API shut down) while this connection was being made.
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryDelayMs = this.options.retryDelayMs ?? 250;
    if (this.lostConnection) {
      this.lostConnection = false;
      for (const set of this.subscribers.values()) for (const s of set) safely(() => s.resync?.());
    }
  }

  private lost(client: ListenClient): void {
    if (client !== this.client) return;
    this.client = null;
    this.lostConnection = true;
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.subscribers.size === 0 || this.retryTimer || this.client) return;
    this.lostConnection = true;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.listening().catch(() => this.scheduleReconnect());
    }, delay);
    this.retryTimer.unref();
  }

  private async disconnect(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.lostConnection = false;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private dispatch(message: Notification): void {
    if (message.channel !== INBOX_NOTIFY_CHANNEL || !message.payload) return;
    let announcement: Partial<InboxAnnouncement>;
    try {
      announcement = JSON.parse(message.payload) as Partial<InboxAnnouncement>;
    } catch {
      return;
    }
    const { tenantId, externalId, id } = announcement;
    if (typeof tenantId !== 'string' || typeof externalId !== 'string' || typeof id !== 'string') return;
    const set = this.subscribers.get(recipientKey(tenantId, externalId));
    for (const s of set ?? []) safely(() => s.onMessageId(id));
  }
}

const recipientKey = (tenantId: string, externalId: string) => JSON.stringify([tenantId, externalId]);

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // one subscriber's failure must not stop the others
  }
}

const streams = new WeakMap<Pool, InboxStream>();

/** This process's inbox stream over `pool`'s database (a dedicated connection, not one of the pool's). */
export function inboxStreamFor(pool: Pool): InboxStream {
  let stream = streams.get(pool);
  if (!stream) {
    stream = new InboxStream(() => new Client(pool.options));
    streams.set(pool, stream);
  }
  return stream;
}

/** Closes the inbox stream over `pool`, if one was opened: ends live streams so the server can stop. */
export async function closeInboxStream(pool: Pool): Promise<void> {
  const stream = streams.get(pool);
  streams.delete(pool);
  await stream?.close();
}
