import type { InboxMessage } from './types';

/** Builds elements from data with textContent only: nothing a message says is ever parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children)
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  return element;
}

/** Only web links become anchors: a `javascript:` or `data:` URL from a message must never run. */
export function safeHref(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, document.baseURI);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];

/** "5 minutes ago" in the reader's language; "just now" under a minute. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(0, 'second');
}

export const absoluteTime = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export interface MessageView {
  item: HTMLLIElement;
  /** The message as last shown. */
  readonly message: InboxMessage;
  update(message: InboxMessage): void;
  refreshTime(): void;
}

let nextId = 0;

/** One list item: unread marker, title (a link when the message has a web URL), body, time, actions. */
export function messageView(message: InboxMessage): MessageView {
  const titleId = `herald-title-${++nextId}`;
  const unreadLabel = el('span', { class: 'visually-hidden' });
  const href = safeHref(message.url);
  const titleText = href
    ? el('a', { href, target: '_blank', rel: 'noopener noreferrer', 'data-role': 'open' }, message.title)
    : document.createTextNode(message.title);
  const title = el('p', { class: 'title', id: titleId }, unreadLabel, titleText);
  const time = el('time', { datetime: message.createdAt, title: absoluteTime(message.createdAt) });
  const toggle = el('button', { type: 'button', 'data-action': 'read' });
  const archive = el(
    'button',
    { type: 'button', 'data-action': 'archive', 'aria-label': `Archive: ${message.title}` },
    'Archive',
  );
  const item = el(
    'li',
    { 'data-id': message.id, 'aria-labelledby': titleId },
    el('span', { class: 'marker', 'aria-hidden': 'true' }),
    el(
      'div',
      {},
      title,
      el('p', { class: 'body' }, message.body),
      time,
      el('div', { class: 'actions' }, toggle, archive),
    ),
  );
  let current = message;
  const view: MessageView = {
    item,
    get message() {
      return current;
    },
    update(next) {
      current = next;
      const unread = next.readAt === null;
      item.dataset.unread = String(unread);
      unreadLabel.textContent = unread ? 'Unread: ' : '';
      toggle.dataset.action = unread ? 'read' : 'unread';
      toggle.textContent = unread ? 'Mark read' : 'Mark unread';
      toggle.setAttribute('aria-label', `${unread ? 'Mark read' : 'Mark unread'}: ${next.title}`);
    },
    refreshTime() {
      time.textContent = relativeTime(message.createdAt);
    },
  };
  view.update(message);
  view.refreshTime();
  return view;
}
