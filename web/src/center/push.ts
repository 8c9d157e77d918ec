/**
 * Push opt-in: the service worker (sw.ts, served as /app/sw.js) shows what Herald's push channel
 * sends; the subscription the browser's push service gives goes to
 * POST …/push-subscriptions, and turning it off deletes it there and in the browser.
 */
import { ApiError, type CenterApi } from './api';
import { el } from './dom';
import { describeError, statusLine } from './status';

export const SERVICE_WORKER_URL = '/app/sw.js';
export const SERVICE_WORKER_SCOPE = '/app/';

/** The VAPID key as pushManager.subscribe wants it: base64url → bytes. */
function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Resolves once the registration has an active worker (pushManager.subscribe needs one). */
function activated(registration: ServiceWorkerRegistration): Promise<ServiceWorkerRegistration> {
  if (registration.active) return Promise.resolve(registration);
  const worker = registration.installing ?? registration.waiting;
  return new Promise((resolve, reject) => {
    if (!worker) return reject(new Error('the service worker did not install'));
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve(registration);
      if (worker.state === 'redundant') reject(new Error('the service worker failed to start'));
    });
  });
}

export async function mountPush(host: HTMLElement, api: CenterApi): Promise<void> {
  const status = statusLine();
  const button = el('button', { type: 'button', class: 'push-toggle' }, ['Checking…']);
  button.disabled = true;
  host.replaceChildren(
    el('p', { class: 'hint' }, ['Get a notification on this device, even when this page is closed.']),
    button,
    status.element,
  );

  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    button.textContent = 'Push notifications are not available';
    status.say('This browser does not support push notifications.', 'error');
    return;
  }

  let registration: ServiceWorkerRegistration;
  try {
    registration = await activated(
      await navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: SERVICE_WORKER_SCOPE }),
    );
  } catch (error) {
    button.textContent = 'Push notifications are not available';
    status.say(describeError(error), 'error');
    return;
  }

  let subscription = await registration.pushManager.getSubscription();
  const show = () => {
    button.textContent = subscription ? 'Turn off push notifications' : 'Turn on push notifications';
    button.setAttribute('aria-pressed', String(subscription !== null));
    button.disabled = false;
  };
  show();

  async function turnOn(): Promise<void> {
    if ((await Notification.requestPermission()) !== 'granted') {
      status.say(
        'Notifications are blocked for this site; allow them in the browser settings first.',
        'error',
      );
      return;
    }
    let publicKey: string;
    try {
      publicKey = await api.pushPublicKey();
    } catch (error) {
      const notSetUp = error instanceof ApiError && error.status === 503;
      status.say(
        notSetUp ? 'Push notifications are not set up by your organisation.' : describeError(error),
        'error',
      );
      return;
    }
    const created = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(publicKey),
    });
    try {
      await api.subscribePush(created.toJSON());
    } catch (error) {
      // Not registered with Herald: keep no browser subscription that nobody sends to.
      await created.unsubscribe().catch(() => undefined);
      throw error;
    }
    subscription = created;
    status.say('Push notifications are on for this device.');
  }

  async function turnOff(current: PushSubscription): Promise<void> {
    await api.unsubscribePush(current.endpoint);
    await current.unsubscribe();
    subscription = null;
    status.say('Push notifications are off for this device.');
  }

  button.addEventListener('click', () => {
    button.disabled = true;
    (subscription ? turnOff(subscription) : turnOn())
      .catch((error: unknown) => status.say(describeError(error), 'error'))
      .finally(show);
  });
}
