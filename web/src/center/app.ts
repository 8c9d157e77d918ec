/**
 * The notification center (/app): one person's inbox, preferences, quiet hours, digest and push
 * opt-in, opened with their end-user token (the `centerUrl` of POST /v1/recipients/{externalId}/tokens).
 * The inbox is the embeddable <herald-inbox> (web/src/inbox), bundled in.
 */
import '../inbox/herald-inbox';
import { ApiError, CenterApi } from './api';
import { byId, el } from './dom';
import { mountDigest } from './digest';
import { mountMatrix } from './matrix';
import { mountPush } from './push';
import { mountQuietHours } from './quiet-hours';
import { forgetToken, takeToken } from './token';

function showGate(text: string): void {
  const gate = byId('gate');
  gate.textContent = text;
  gate.hidden = false;
  byId('center').hidden = true;
}

function showBadge(count: number): void {
  const badge = byId('badge');
  badge.textContent = count === 0 ? 'All read' : `${count} unread`;
  badge.dataset.count = String(count);
  badge.hidden = false;
}

/** <herald-inbox> reports its count with `herald:unread-count`, `detail: { count }`. */
function countOf(event: Event): number | null {
  const count = (event as CustomEvent<{ count?: unknown } | null>).detail?.count;
  return typeof count === 'number' ? count : null;
}

/** Runs one section; a failure shows in that section, not over the whole page. */
async function section(
  hostId: string,
  run: (host: HTMLElement) => Promise<unknown> | unknown,
): Promise<void> {
  const host = byId(hostId);
  try {
    await run(host);
  } catch (error) {
    host.replaceChildren(
      el('p', { class: 'status', 'data-kind': 'error', role: 'alert' }, [
        `This part could not be loaded: ${error instanceof Error ? error.message : 'unknown error'}`,
      ]),
    );
  }
}

async function main(): Promise<void> {
  const token = takeToken();
  if (!token) {
    showGate('Open this page from the link you were sent: it carries your access.');
    return;
  }
  const api = new CenterApi(token);
  try {
    await api.me();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken();
      showGate('This link has expired. Ask for a new one from the application that sent it.');
    } else {
      showGate(error instanceof Error ? error.message : 'The notification center could not start.');
    }
    return;
  }
  byId('center').hidden = false;

  const inbox = document.createElement('herald-inbox');
  inbox.setAttribute('token', token);
  inbox.setAttribute('api', location.origin);
  inbox.addEventListener('herald:unread-count', (event) => {
    const count = countOf(event);
    if (count !== null) showBadge(count);
  });
  byId('inbox').replaceChildren(inbox);

  const settings = api.deliverySettings();
  settings.catch(() => undefined); // awaited by the sections below, which show the failure
  let matrix: Awaited<ReturnType<typeof api.matrix>> | null = null;
  await section('matrix', async (host) => {
    matrix = await mountMatrix(host, api);
  });
  await Promise.all([
    section('quiet-hours', async (host) => mountQuietHours(host, api, await settings)),
    section('digest', async (host) => {
      if (matrix) mountDigest(host, api, await settings, matrix);
    }),
    section('push', (host) => mountPush(host, api)),
  ]);
  document.body.dataset.ready = 'true';
}

void main();
