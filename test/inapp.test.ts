import { randomUUID } from 'node:crypto';
import { classifyInboxError, createInappChannel } from '../activities/channels/inapp';
import type { DeliveryTarget } from '../activities/channels/types';
import { closeInboxStream, inboxStreamFor } from '../api/inbox-stream';
import { insertInboxMessage } from '../db/queries/inbox';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/** A Server-Sent Events client over fetch: reads the body as it arrives and hands out events in order. */
class SseClient {
  private readonly events: SseEvent[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private buffer = '';

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    void this.pump();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const response = await fetch(url, { headers, signal: controller.signal });
    const client = new SseClient(response, controller);
    openStreams.add(client);
    return client;
  }

  /** The next event (comments skipped); fails after `timeoutMs` naming what did arrive. */
  async next(timeoutMs = 15_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      if (this.ended) throw new Error('the event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.events.shift()!;
  }

  /** The next event, which must be of this type; its data parsed as JSON. */
  async expectEvent(type: string, timeoutMs?: number) {
    const event = await this.next(timeoutMs);
    expect(event.event).toBe(type);
    return { id: event.id, data: JSON.parse(event.data) as Record<string, unknown> };
  }

  close(): void {
    this.controller.abort();
    openStreams.delete(this);
  }

  private async pump(): Promise<void> {
    const reader = this.response.body?.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        if (!reader) break;
        const { done, value } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        this.parse();
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.wake?.();
    }
  }

  private parse(): void {
    for (let end = this.buffer.search(/\r?\n\r?\n/); end >= 0; end = this.buffer.search(/\r?\n\r?\n/)) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const event: SseEvent = { event: 'message', data: '', id: null };
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') event.id = value;
      }
      if (data.length === 0) continue;
      event.data = data.join('\n');
      this.events.push(event);
      this.wake?.();
    }
  }
}

const openStreams = new Set<SseClient>();

/** Polls `check` until it holds; for state that changes without an event to wait on. */
async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the in-app inbox', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    for (const stream of openStreams) stream.close();
    await stack.close();
  });

  async function createRecipient(): Promise<string> {
    const externalId = uniq('tech');
    const put = await stack.api('PUT', `/v1/recipients/${externalId}`, {
      name: 'Tendai Moyo',
      email: `${externalId}@example.com`,
    });
    expect(put.status).toBe(201);
    return externalId;
  }

  // With a key the stream takes the Authorization header (`?token=` is for end-user tokens only).
  const openStream = (externalId: string, headers: Record<string, string> = {}) =>
    SseClient.open(`${stack.baseUrl}/v1/recipients/${externalId}/inbox/stream`, {
      authorization: `Bearer ${stack.apiKey}`,
      ...headers,
    });

  /** Sends ticket.assigned in-app only and waits for its workflow; returns the notification's view. */
  async function notify(externalId: string, ticketId: string, channels = ['inapp']) {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [externalId] },
      channels,
      data: { ticketId, title: 'Printer not working', priority: 'High' },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id, 30_000);
    expect(view.status).toBe('completed');
    return view;
  }

  /** Delivers one message and returns its inbox id (the delivery's provider message id). */
  async function deliver(externalId: string, ticketId: string): Promise<string> {
    const view = await notify(externalId, ticketId);
    const id = view.recipients[0].deliveries[0].providerMessageId as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    return id;
  }

  const inbox = async (externalId: string, query = '') => {
    const response = await stack.api('GET', `/v1/recipients/${externalId}/inbox${query}`);
    expect(response.status).toBe(200);
    return response.body;
  };
  const unreadCount = async (externalId: string) => {
    const response = await stack.api('GET', `/v1/recipients/${externalId}/inbox/unread-count`);
    expect(response.status).toBe(200);
    return response.body.unreadCount as number;
  };

  it('puts a notification in the inbox and on the open stream', async () => {
    const externalId = await createRecipient();
    const stream = await openStream(externalId);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await stream.expectEvent('ready')).data).toEqual({ unreadCount: 0 });

    const view = await notify(externalId, '123');
    const live = await stream.expectEvent('message');
    expect(live.data).toEqual({
      id: expect.any(String),
      event: 'ticket.assigned',
      title: 'Ticket #123 assigned to you',
      body: 'Ticket #123 Printer not working has been assigned to you. Priority: High.',
      url: null,
      createdAt: expect.any(String),
      readAt: null,
      archivedAt: null,
      notificationId: view.id,
    });
    expect(live.id).toBe(live.data.id);

    expect(view.counts).toEqual({ sent: 1 });
    expect(view.recipients[0].deliveries).toEqual([
      expect.objectContaining({ channel: 'inapp', status: 'sent', providerMessageId: live.data.id }),
    ]);
    expect(await inbox(externalId)).toEqual({ items: [live.data], nextCursor: null, unreadCount: 1 });
    stream.close();
  });

  it('reads, marks unread, reads all, counts, archives and deletes as documented', async () => {
    const externalId = await createRecipient();
    const first = await deliver(externalId, '201');
    const second = await deliver(externalId, '202');
    expect(await unreadCount(externalId)).toBe(2);

    // A message is reached only through its own recipient.
    const other = await createRecipient();
    expectError(await stack.api('POST', `/v1/recipients/${other}/inbox/${first}/read`), 404, 'not_found');
    expectError(await stack.api('DELETE', `/v1/recipients/${other}/inbox/${first}`), 404, 'not_found');
    expect(await unreadCount(externalId)).toBe(2);

    const read = await stack.api('POST', `/v1/recipients/${externalId}/inbox/${first}/read`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(expect.objectContaining({ id: first, readAt: expect.any(String) }));
    expect(await unreadCount(externalId)).toBe(1);
    const unreadOnly = await inbox(externalId, '?unread=true');
    expect(unreadOnly.items.map((m: { id: string }) => m.id)).toEqual([second]);
    expect(unreadOnly.unreadCount).toBe(1);

    // Reading again keeps the first read time; unread brings it back.
    expect((await stack.api('POST', `/v1/recipients/${externalId}/inbox/${first}/read`)).body.readAt).toBe(
      read.body.readAt,
    );
    expect(
      (await stack.api('POST', `/v1/recipients/${externalId}/inbox/${first}/unread`)).body.readAt,
    ).toBeNull();
    expect(await unreadCount(externalId)).toBe(2);
    expect((await stack.api('POST', `/v1/recipients/${externalId}/inbox/${first}/read`)).status).toBe(200);

    const readAll = await stack.api('POST', `/v1/recipients/${externalId}/inbox/read-all`);
    expect(readAll.status).toBe(200);
    expect(readAll.body).toEqual({ updated: 1 });
    expect(await unreadCount(externalId)).toBe(0);
    expect((await stack.api('POST', `/v1/recipients/${externalId}/inbox/read-all`)).body).toEqual({
      updated: 0,
    });

    // Archived: out of the default list, in the archived one; an unread archived message is not counted.
    expect((await stack.api('POST', `/v1/recipients/${externalId}/inbox/${second}/unread`)).status).toBe(200);
    expect(await unreadCount(externalId)).toBe(1);
    const archived = await stack.api('POST', `/v1/recipients/${externalId}/inbox/${second}/archive`);
    expect(archived.status).toBe(200);
    expect(archived.body.archivedAt).toEqual(expect.any(String));
    expect((await inbox(externalId)).items.map((m: { id: string }) => m.id)).toEqual([first]);
    expect((await inbox(externalId, '?archived=true')).items.map((m: { id: string }) => m.id)).toEqual([
      second,
    ]);
    expect(await unreadCount(externalId)).toBe(0);
    const unarchived = await stack.api('POST', `/v1/recipients/${externalId}/inbox/${second}/unarchive`);
    expect(unarchived.body.archivedAt).toBeNull();
    expect((await inbox(externalId)).items.map((m: { id: string }) => m.id)).toEqual([second, first]);

    expect((await stack.api('DELETE', `/v1/recipients/${externalId}/inbox/${first}`)).status).toBe(204);
    expectError(await stack.api('DELETE', `/v1/recipients/${externalId}/inbox/${first}`), 404, 'not_found');
    expectError(
      await stack.api('POST', `/v1/recipients/${externalId}/inbox/${first}/read`),
      404,
      'not_found',
    );
    expect((await inbox(externalId)).items.map((m: { id: string }) => m.id)).toEqual([second]);
  });

  it('pages through the inbox with a cursor, newest first', async () => {
    const externalId = await createRecipient();
    const ids = await Promise.all(['301', '302', '303'].map((t) => deliver(externalId, t)));

    const page1 = await inbox(externalId, '?limit=2');
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).toEqual(expect.any(String));
    expect(page1.unreadCount).toBe(3);
    const page2 = await inbox(externalId, `?limit=2&cursor=${encodeURIComponent(page1.nextCursor)}`);
    expect(page2.items).toHaveLength(1);
    expect(page2.nextCursor).toBeNull();

    const listed = [...page1.items, ...page2.items];
    expect(listed.map((m: { id: string }) => m.id).sort()).toEqual([...ids].sort());
    const times = listed.map((m: { createdAt: string }) => Date.parse(m.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    // Equal times, and times apart by less than a millisecond, neither repeat nor skip a message.
    const [a, b, c] = [...ids].sort();
    await stack.db.query(
      `UPDATE inbox_messages SET created_at = CASE WHEN id = $3 THEN $2::timestamptz ELSE $1::timestamptz END
        WHERE id = ANY($4::uuid[])`,
      ['2030-01-01T00:00:00.123456Z', '2030-01-01T00:00:00.123400Z', c, ids],
    );
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await inbox(
        externalId,
        `?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      walked.push(...page.items.map((m: { id: string }) => m.id));
      cursor = page.nextCursor;
    } while (cursor && walked.length < 10);
    expect(walked).toEqual([b, a, c]);

    expectError(
      await stack.api('GET', `/v1/recipients/${externalId}/inbox?cursor=nonsense`),
      400,
      'validation_failed',
    );
    expectError(
      await stack.api('GET', `/v1/recipients/${externalId}/inbox?unread=yes`),
      400,
      'validation_failed',
    );
  });

  it('keeps one message per notification and recipient however often the send is retried', async () => {
    const externalId = await createRecipient();
    // A notification that went by email only: its in-app message is written here, twice.
    const view = await notify(externalId, '401', ['email']);
    const message = {
      tenantId: stack.tenantId,
      externalId,
      notificationId: view.id as string,
      event: 'ticket.assigned',
      title: 'Ticket #401 assigned to you',
      body: 'Retried',
      url: null,
    };
    const firstTry = await insertInboxMessage(stack.db, { id: randomUUID(), ...message });
    const retry = await insertInboxMessage(stack.db, { id: randomUUID(), ...message });
    expect(firstTry.created).toBe(true);
    expect(retry).toEqual({ id: firstTry.id, created: false });

    // Through the channel too: a repeated send reports the same message and adds none.
    const channel = createInappChannel(stack.db);
    const target = inappTarget(stack.tenantId, externalId, view.id);
    const content = { title: 'Again', body: 'Again', url: null };
    expect(await channel.send(target, content)).toEqual({ providerMessageId: firstTry.id });
    const listed = await inbox(externalId);
    expect(listed.items.map((m: { id: string }) => m.id)).toEqual([firstTry.id]);
    expect(listed.items[0].body).toBe('Retried');
  });

  it('replays what a reconnecting stream missed (Last-Event-ID) and ends the subscription on disconnect', async () => {
    const externalId = await createRecipient();
    const first = await deliver(externalId, '501');
    const second = await deliver(externalId, '502');
    const stream = await openStream(externalId, { 'Last-Event-ID': first });
    expect((await stream.expectEvent('ready')).data).toEqual({ unreadCount: 2 });
    const replayed = await stream.expectEvent('message');
    expect(replayed.id).toBe(second);
    expect(replayed.data.title).toBe('Ticket #502 assigned to you');

    const live = inboxStreamFor(stack.db);
    expect(live.size).toBeGreaterThanOrEqual(1);
    stream.close();
    await eventually(() => live.size === 0, 'the stream unsubscribes when the client goes away');
  });

  it('catches up after the LISTEN connection is lost', async () => {
    const externalId = await createRecipient();
    const view = await notify(externalId, '601', ['email']);
    const stream = await openStream(externalId);
    await stream.expectEvent('ready');

    const killed = await stack.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN herald_inbox' AND pid <> pg_backend_pid()`,
    );
    expect(killed.rowCount).toBeGreaterThanOrEqual(1);
    // Written while the stream may not be listening: it arrives by the catch-up or the new LISTEN.
    const sent = await createInappChannel(stack.db).send(inappTarget(stack.tenantId, externalId, view.id), {
      title: 'While reconnecting',
      body: 'Missed?',
      url: null,
    });
    const message = await stream.expectEvent('message');
    expect(message.id).toBe(sent.providerMessageId);
    expect(message.data.title).toBe('While reconnecting');
    stream.close();
  });

  it('ends open streams when the API shuts down, and serves new ones afterwards', async () => {
    const externalId = await createRecipient();
    const stream = await openStream(externalId);
    await stream.expectEvent('ready');
    await closeInboxStream(stack.db);
    await expect(stream.next()).rejects.toThrow('the event stream ended');

    const again = await openStream(externalId);
    await again.expectEvent('ready');
    const first = await deliver(externalId, '701');
    expect((await again.expectEvent('message')).id).toBe(first);
    again.close();
  });

  it('answers 404 with a JSON error for an unknown recipient or message, 400 for a malformed id', async () => {
    const nobody = uniq('nobody');
    for (const path of ['inbox', 'inbox/unread-count', 'inbox/stream']) {
      expectError(await stack.api('GET', `/v1/recipients/${nobody}/${path}`), 404, 'not_found');
    }
    expectError(await stack.api('POST', `/v1/recipients/${nobody}/inbox/read-all`), 404, 'not_found');
    const externalId = await createRecipient();
    const unknown = randomUUID();
    for (const action of ['read', 'unread', 'archive', 'unarchive']) {
      expectError(
        await stack.api('POST', `/v1/recipients/${externalId}/inbox/${unknown}/${action}`),
        404,
        'not_found',
      );
    }
    expectError(await stack.api('DELETE', `/v1/recipients/${externalId}/inbox/${unknown}`), 404, 'not_found');
    expectError(
      await stack.api('POST', `/v1/recipients/${nobody}/inbox/not-a-uuid/read`),
      400,
      'validation_failed',
    );
  });

  it('refuses in-app sends without a recipient and retries only database connection errors', async () => {
    const channel = createInappChannel(stack.db);
    const rawTarget = { ...inappTarget(stack.tenantId, 'x', randomUUID()), externalId: null };
    const error = await channel
      .send(rawTarget, { title: 't', body: 'b', url: null })
      .catch((e: unknown) => e);
    expect(channel.classify(error)).toEqual({ kind: 'permanent', reason: 'in-app needs a recipient' });

    expect(
      classifyInboxError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).kind,
    ).toBe('transient');
    expect(
      classifyInboxError(Object.assign(new Error('terminating connection'), { code: '57P01' })).kind,
    ).toBe('transient');
    expect(classifyInboxError(new Error('Connection terminated unexpectedly')).kind).toBe('transient');
    expect(classifyInboxError(Object.assign(new Error('fk'), { code: '23503' }))).toEqual({
      kind: 'permanent',
      reason: 'the recipient no longer exists',
    });
    expect(classifyInboxError(Object.assign(new Error('value too long'), { code: '22001' })).kind).toBe(
      'permanent',
    );
  });
});

function inappTarget(tenantId: string, externalId: string, notificationId: string): DeliveryTarget {
  return {
    deliveryId: '1',
    notificationId,
    tenantId,
    event: 'ticket.assigned',
    priority: 'normal',
    channel: 'inapp',
    recipientKey: externalId,
    externalId,
    address: 'inbox',
    recipientName: null,
    data: {},
  };
}
