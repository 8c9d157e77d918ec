/**
 * The notification center's service worker (/app/sw.js). Herald's push channel sends
 * `{"title", "body", "url"}` (activities/channels/push: the rendered push variant, url null when
 * the template has none); a push shows it, a click opens its URL (or the center).
 *
 * The few service-worker types are declared here: the DOM and WebWorker libraries cannot be in one
 * TypeScript program.
 */
interface PushPayload {
  title?: unknown;
  body?: unknown;
  url?: unknown;
}

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface PushEvent extends ExtendableEvent {
  readonly data: { json(): unknown; text(): string } | null;
}
interface NotificationEvent extends ExtendableEvent {
  readonly notification: Notification;
}
interface WindowClient {
  readonly url: string;
  focus(): Promise<WindowClient>;
}
interface WorkerScope {
  registration: ServiceWorkerRegistration;
  location: Location;
  clients: {
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
    claim(): Promise<void>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'push', listener: (event: PushEvent) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: NotificationEvent) => void): void;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
}

const worker = self as unknown as WorkerScope;
const CENTER = new URL('/app', worker.location.origin).href;

function readPayload(event: PushEvent): { title: string; body: string; url: string | null } {
  let payload: PushPayload;
  try {
    payload = (event.data?.json() ?? {}) as PushPayload;
  } catch {
    // not JSON: show the text itself
    payload = { body: event.data?.text() ?? '' };
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return {
    title: text(payload.title) || 'New notification',
    body: text(payload.body),
    url: safeUrl(payload.url),
  };
}

/** Only http(s) links are opened; anything else (javascript:, data:) falls back to the center. */
function safeUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  try {
    const url = new URL(value, worker.location.origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

worker.addEventListener('install', (event) => event.waitUntil(worker.skipWaiting()));
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));

worker.addEventListener('push', (event) => {
  const { title, body, url } = readPayload(event);
  event.waitUntil(worker.registration.showNotification(title, { body, data: { url } }));
});

worker.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = safeUrl((event.notification.data as { url?: unknown } | null)?.url) ?? CENTER;
  event.waitUntil(
    worker.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url === url);
      return open ? open.focus() : worker.clients.openWindow(url);
    }),
  );
});
