import { InboxApiError, InboxClient, type MessageAction } from './api-client';
import { el, messageView, type MessageView } from './render';
import { applyStyles } from './styles';
import type { InboxMessage } from './types';

/** Where the API is when the element has no `api` attribute: the origin its script came from. */
let defaultApiBase = typeof location === 'undefined' ? '' : location.origin;
export const setDefaultApiBase = (base: string): void => {
  defaultApiBase = base;
};

const PAGE_SIZE = 20;
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 300_000;

/** Fired (bubbling, across shadow roots) whenever the unread count is known anew: `detail.count`. */
export const UNREAD_COUNT_EVENT = 'herald:unread-count';
/** Fired when loading or an action fails: `detail.code` (`network` for CORS refusals too), `detail.message`. */
export const ERROR_EVENT = 'herald:error';

/**
 * `<herald-inbox token="heu_…" api="https://herald.example.com">`: one person's inbox, live.
 * The token is an end-user token the host page's backend mints (docs/embedding.md).
 */
export class HeraldInboxElement extends HTMLElement {
  static readonly observedAttributes = ['token', 'api'];

  private readonly root: ShadowRoot;
  private readonly list: HTMLUListElement;
  private readonly badge: HTMLSpanElement;
  private readonly badgeLabel: HTMLSpanElement;
  private readonly readAllButton: HTMLButtonElement;
  private readonly moreButton: HTMLButtonElement;
  private readonly stateLine: HTMLParagraphElement;
  private readonly retryButton: HTMLButtonElement;
  private readonly announcer: HTMLDivElement;
  private readonly statusLine: HTMLDivElement;

  private client: InboxClient | null = null;
  private views = new Map<string, MessageView>();
  private unread = 0;
  private cursor: string | null = null;
  private stopLive: (() => void) | null = null;
  private abort: AbortController | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryDelay = RETRY_FIRST_MS;
  private clock: ReturnType<typeof setInterval> | null = null;
  private restartQueued = false;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    applyStyles(this.root);
    const headingId = 'herald-inbox-heading';
    this.badgeLabel = el('span', { class: 'visually-hidden' });
    this.badge = el('span', { class: 'badge', 'data-count': '0' });
    this.readAllButton = el('button', { type: 'button', 'data-action': 'read-all' }, 'Mark all read');
    this.list = el('ul', { role: 'list', 'aria-labelledby': headingId, hidden: '' });
    this.moreButton = el('button', { type: 'button', class: 'more', hidden: '' }, 'Show older');
    this.stateLine = el('p', { class: 'state', role: 'status' }, 'Loading notifications…');
    this.retryButton = el('button', { type: 'button', class: 'more', hidden: '' }, 'Try again');
    this.announcer = el('div', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true' });
    this.statusLine = el('div', { class: 'status', role: 'status' });
    this.root.append(
      el(
        'section',
        { 'aria-labelledby': headingId },
        el(
          'header',
          {},
          el('h2', { id: headingId }, 'Notifications', this.badge, this.badgeLabel),
          this.readAllButton,
        ),
        this.stateLine,
        this.retryButton,
        this.list,
        this.moreButton,
        this.statusLine,
        this.announcer,
      ),
    );
    this.list.addEventListener('click', (event) => this.onListClick(event));
    this.readAllButton.addEventListener('click', () => void this.readAll());
    this.moreButton.addEventListener('click', () => void this.loadMore());
    this.retryButton.addEventListener('click', () => this.restart());
    this.setUnread(0, false);
  }

  /** The unread count as last known (also in the `herald:unread-count` event). */
  get unreadCount(): number {
    return this.unread;
  }

  connectedCallback(): void {
    this.restart();
    this.clock ??= setInterval(() => this.views.forEach((view) => view.refreshTime()), 60_000);
  }

  disconnectedCallback(): void {
    this.stop();
    if (this.clock) clearInterval(this.clock);
    this.clock = null;
  }

  attributeChangedCallback(_name: string, previous: string | null, next: string | null): void {
    if (previous !== next && this.isConnected) this.restart();
  }

  /** Starts over (once per task, however many attributes changed at once). */
  private restart(): void {
    if (this.restartQueued) return;
    this.restartQueued = true;
    queueMicrotask(() => {
      this.restartQueued = false;
      this.stop();
      if (this.isConnected) void this.start();
    });
  }

  private stop(): void {
    this.stopLive?.();
    this.stopLive = null;
    this.abort?.abort();
    this.abort = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async start(): Promise<void> {
    const token = this.getAttribute('token')?.trim();
    if (!token) {
      this.showState('error', 'No token: set the token attribute to an end-user token.');
      return;
    }
    const client = new InboxClient(this.getAttribute('api')?.trim() || defaultApiBase, token);
    this.client = client;
    const abort = new AbortController();
    this.abort = abort;
    this.showState('loading', 'Loading notifications…');
    try {
      await client.me(abort.signal);
      const page = await client.list({ limit: PAGE_SIZE }, abort.signal);
      if (this.client !== client) return;
      this.views.forEach((view) => view.item.remove());
      this.views.clear();
      this.addMessages(page.items, 'end');
      this.cursor = page.nextCursor;
      this.moreButton.hidden = page.nextCursor === null;
      this.setUnread(page.unreadCount);
      this.showState('ready');
      this.retryDelay = RETRY_FIRST_MS;
      this.goLive(client);
    } catch (error) {
      if (abort.signal.aborted || this.client !== client) return;
      this.fail(error, 'Notifications could not be loaded');
    }
  }

  private goLive(client: InboxClient): void {
    this.statusLine.textContent = '';
    this.stopLive = client.live({
      ready: (count) => this.setUnread(count),
      message: (message) => this.received(message),
      closed: () => {
        this.stopLive = null;
        this.statusLine.textContent = 'Live updates paused; reconnecting…';
        // EventSource gives up on a refused answer (an expired token, say): start over later.
        this.retryTimer = setTimeout(() => this.restart(), this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      },
    });
  }

  private received(message: InboxMessage): void {
    const known = this.views.get(message.id);
    if (known) {
      known.update(message);
      return;
    }
    if (message.archivedAt !== null) return;
    this.addMessages([message], 'start');
    this.showState('ready');
    if (message.readAt === null) this.setUnread(this.unread + 1);
    this.announcer.textContent = `New notification: ${message.title}`;
  }

  private addMessages(messages: InboxMessage[], where: 'start' | 'end'): void {
    const views = messages.filter((m) => !this.views.has(m.id)).map((m) => messageView(m));
    for (const view of views) this.views.set(view.item.dataset.id!, view);
    const nodes = views.map((view) => view.item);
    if (where === 'start') this.list.prepend(...nodes);
    else this.list.append(...nodes);
  }

  private async loadMore(): Promise<void> {
    if (!this.client || !this.cursor) return;
    this.moreButton.disabled = true;
    try {
      const page = await this.client.list({ cursor: this.cursor, limit: PAGE_SIZE });
      this.addMessages(page.items, 'end');
      this.cursor = page.nextCursor;
      this.moreButton.hidden = page.nextCursor === null;
      this.setUnread(page.unreadCount);
    } catch (error) {
      this.report(error, 'Older notifications could not be loaded');
    } finally {
      this.moreButton.disabled = false;
    }
  }

  private onListClick(event: Event): void {
    const target = event.target as Element | null;
    const item = target?.closest('li');
    const id = item?.getAttribute('data-id');
    if (!item || !id) return;
    if (target?.closest('a[data-role="open"]')) {
      // Opening a message reads it; the link itself goes on as the browser's own navigation.
      if (item.getAttribute('data-unread') === 'true') void this.act(id, 'read');
      return;
    }
    const action = target?.closest('button')?.getAttribute('data-action');
    if (action === 'read' || action === 'unread' || action === 'archive') void this.act(id, action);
  }

  private async act(id: string, action: MessageAction): Promise<void> {
    const client = this.client;
    const view = this.views.get(id);
    if (!client || !view) return;
    // Busy, not disabled: a disabled button would drop the keyboard focus.
    if (view.item.getAttribute('aria-busy') === 'true') return;
    view.item.setAttribute('aria-busy', 'true');
    try {
      const message = await client.act(id, action);
      if (action === 'archive') {
        this.removeView(id);
      } else {
        view.update(message);
      }
      this.setUnread(await client.unreadCount());
    } catch (error) {
      this.report(error, action === 'archive' ? 'Could not archive' : `Could not mark ${action}`);
    } finally {
      view.item.removeAttribute('aria-busy');
    }
  }

  /** Removes an item; the keyboard focus moves on to the next item's first button, or the heading's. */
  private removeView(id: string): void {
    const view = this.views.get(id);
    if (!view) return;
    const hadFocus = view.item.contains(this.root.activeElement);
    const next = (view.item.nextElementSibling ?? view.item.previousElementSibling) as HTMLElement | null;
    view.item.remove();
    this.views.delete(id);
    if (hadFocus) (next?.querySelector('button') ?? this.readAllButton).focus();
    if (this.views.size === 0) this.showState('ready');
  }

  private async readAll(): Promise<void> {
    const client = this.client;
    if (!client || this.readAllButton.getAttribute('aria-disabled') === 'true') return;
    this.readAllButton.setAttribute('aria-disabled', 'true');
    try {
      await client.readAll();
      const now = new Date().toISOString();
      this.views.forEach((view) => {
        if (view.item.dataset.unread === 'true') view.update({ ...view.message, readAt: now });
      });
      this.setUnread(await client.unreadCount());
    } catch (error) {
      this.report(error, 'Could not mark all read');
    } finally {
      this.readAllButton.setAttribute('aria-disabled', String(this.unread === 0));
    }
  }

  private setUnread(count: number, announce = true): void {
    this.unread = count;
    this.badge.textContent = String(count);
    this.badge.dataset.count = String(count);
    this.badge.setAttribute('aria-hidden', 'true');
    this.badgeLabel.textContent = `, ${count} unread`;
    // aria-disabled keeps it focusable: a keyboard user who just used it does not lose their place.
    this.readAllButton.setAttribute('aria-disabled', String(count === 0));
    if (announce) {
      this.dispatchEvent(
        new CustomEvent(UNREAD_COUNT_EVENT, { detail: { count }, bubbles: true, composed: true }),
      );
    }
  }

  private showState(kind: 'loading' | 'ready' | 'error', text?: string): void {
    const empty = kind === 'ready' && this.views.size === 0;
    this.stateLine.hidden = kind === 'ready' && !empty;
    this.stateLine.dataset.kind = kind;
    this.stateLine.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    this.stateLine.textContent = empty ? 'No notifications.' : (text ?? '');
    this.list.hidden = kind !== 'ready' || empty;
    this.retryButton.hidden = kind !== 'error';
    this.readAllButton.hidden = kind !== 'ready';
    if (kind !== 'ready') this.moreButton.hidden = true;
    this.setAttribute('data-state', kind);
  }

  /** A failure that leaves nothing to show: the error state, with a way to try again. */
  private fail(error: unknown, what: string): void {
    const detail = describe(error);
    this.showState('error', `${what}: ${detail.message}`);
    this.dispatchEvent(new CustomEvent(ERROR_EVENT, { detail, bubbles: true, composed: true }));
  }

  /** A failed action: said in the status line; the list stays. */
  private report(error: unknown, what: string): void {
    const detail = describe(error);
    this.statusLine.textContent = `${what}: ${detail.message}`;
    this.dispatchEvent(new CustomEvent(ERROR_EVENT, { detail, bubbles: true, composed: true }));
  }
}

function describe(error: unknown): { code: string; status: number; message: string } {
  if (error instanceof InboxApiError)
    return { code: error.code, status: error.status, message: error.message };
  return { code: 'error', status: 0, message: error instanceof Error ? error.message : String(error) };
}
