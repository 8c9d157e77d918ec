import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, SCREENSHOTS } from './support/browser';
import { createWebAssetRoutes, PAGE_CSP } from '../api/routes/web-assets';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/** The few browser globals the page-side callbacks use (the test compiles without the DOM library). */
interface FocusedElement {
  shadowRoot: { activeElement: FocusedElement | null } | null;
  getAttribute(name: string): string | null;
  textContent: string | null;
}
interface BrowserGlobals {
  getComputedStyle(element: unknown): { backgroundColor: string };
  document: { documentElement: { scrollWidth: number }; activeElement: FocusedElement | null };
}

/** The host page's theme: the badge must take this accent through the shadow boundary. */
const ACCENT = 'rgb(122, 31, 162)';

/** A loopback HTTP server answering every request with `handler`; its origin is `http://127.0.0.1:<port>`. */
async function startServer(
  handler: http.RequestListener,
): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A GET with the path exactly as written: fetch() would resolve `..` before sending. */
function rawGet(origin: string, rawPath: string): Promise<{ status: number; body: string; type: string }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: rawPath, method: 'GET' },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] ?? '' }),
        );
      },
    );
    request.on('error', reject);
    request.end();
  });
}

async function poll<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
    value = await read();
  }
  return value;
}

describe('the embeddable <herald-inbox> on a page of another origin', () => {
  let stack: Stack;
  let browser: Browser;
  /** The page the servers below answer with; set per test. */
  let pageHtml = '';
  let allowed: Awaited<ReturnType<typeof startServer>>;
  let refused: Awaited<ReturnType<typeof startServer>>;
  let externalId: string;
  let token: string;

  /** A plain host page: the script from the API, the element, a theme, and a log of the element's events. */
  const hostPage = (api: string, pageToken: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host app</title>
<style>body { margin: 0; font-family: sans-serif; } herald-inbox { --herald-accent: ${ACCENT}; margin: 8px; }</style>
<script>
  window.__events = [];
  window.__loadedAt = Math.random();
  document.addEventListener('herald:unread-count', (e) => window.__events.push(['count', e.detail.count]));
  document.addEventListener('herald:error', (e) => window.__events.push(['error', e.detail.code]));
</script>
<script src="${api}/embed/herald-inbox.js"></script>
</head><body>
<h1>Host app</h1>
<herald-inbox token="${pageToken}" api="${api}"></herald-inbox>
</body></html>`;

  const servePage: http.RequestListener = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(pageHtml);
  };

  /** Sends ticket.assigned to the person, in-app only, and waits until it is in the inbox. */
  async function notify(ticketId: string, title = 'Printer not working'): Promise<void> {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [externalId] },
      channels: ['inapp'],
      data: { ticketId, title, priority: 'High' },
    });
    expect(created.status).toBe(202);
    expect((await waitForNotification(stack, created.body.id, 60_000)).status).toBe('completed');
  }

  const apiUnread = async () =>
    (await stack.api('GET', `/v1/recipients/${externalId}/inbox/unread-count`)).body.unreadCount as number;
  const items = (page: Page) => page.locator('herald-inbox li');
  const badge = (page: Page) => page.locator('herald-inbox .badge');
  const events = (page: Page) =>
    page.evaluate(() => (globalThis as unknown as { __events: [string, unknown][] }).__events);

  beforeAll(async () => {
    allowed = await startServer(servePage);
    refused = await startServer(servePage);
    stack = await startStack({ apiEnv: { HERALD_CORS_ORIGINS: allowed.origin } });
    browser = await launchChromium();
    externalId = uniq('embed');
    expect((await stack.api('PUT', `/v1/recipients/${externalId}`, { name: 'Rudo Chari' })).status).toBe(201);
    await notify('101');
    await notify('102', 'Printer <img src=x onerror="window.__pwned=1"> jammed');
    const minted = await stack.api('POST', `/v1/recipients/${externalId}/tokens`);
    expect(minted.status).toBe(201);
    token = minted.body.token;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await allowed?.close();
    await refused?.close();
  });

  it("tells a token's holder whose inbox it opens (GET /v1/me)", async () => {
    const me = await stack.api('GET', '/v1/me', undefined, { authorization: `Bearer ${token}` });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      kind: 'end_user',
      externalId,
      tenantId: stack.tenantId,
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const asKey = await stack.api('GET', '/v1/me');
    expect(asKey.body).toEqual({
      kind: 'api_key',
      tenantId: stack.tenantId,
      scopes: expect.arrayContaining(['read']),
    });
    expectError(await stack.api('GET', '/v1/me', undefined, { authorization: '' }), 401, 'unauthorized');
  });

  it('answers preflights without a token, and allows only the configured origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${stack.baseUrl}/v1/recipients/${externalId}/inbox`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const ok = await preflight(allowed.origin);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    expect(ok.headers.get('vary')).toContain('Origin');
    const no = await preflight(refused.origin);
    expect(no.status).toBe(204);
    expect(no.headers.get('access-control-allow-origin')).toBeNull();

    const get = (origin: string) =>
      stack.api('GET', `/v1/recipients/${externalId}/inbox/unread-count`, undefined, {
        authorization: `Bearer ${token}`,
        origin,
      });
    const mine = await get(allowed.origin);
    expect(mine.status).toBe(200);
    expect(mine.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(mine.headers.get('vary')).toContain('Origin');
    expect((await get(refused.origin)).headers.get('access-control-allow-origin')).toBeNull();
    // Errors carry the header too, so the page can read why (here: no token).
    const anonymous = await stack.api('GET', '/v1/me', undefined, {
      authorization: '',
      origin: allowed.origin,
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('access-control-allow-origin')).toBe(allowed.origin);
  });

  it("shows the person's messages and unread count, themed by the host page, on a 360 px screen", async () => {
    pageHtml = hostPage(stack.baseUrl, token);
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await page.goto(allowed.origin);
    await poll(
      () => items(page).count(),
      (n) => n === 2,
      'inbox items',
    );
    await expect(badge(page).textContent()).resolves.toBe('2');
    expect(await events(page)).toContainEqual(['count', 2]);
    await page.getByRole('list', { name: /Notifications/ }).waitFor();
    await page.getByText('Ticket #101 assigned to you').waitFor();
    // The hostile title is text, not markup: no element was made from it and no handler ran.
    await page.getByText('Printer <img src=x onerror="window.__pwned=1"> jammed', { exact: false }).waitFor();
    expect(await page.locator('herald-inbox img').count()).toBe(0);
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
    await expect(
      badge(page).evaluate(
        (e) => (globalThis as unknown as BrowserGlobals).getComputedStyle(e).backgroundColor,
      ),
    ).resolves.toBe(ACCENT);
    // Only what applies is shown: no retry without an error, no "older" without a next page.
    for (const name of ['Try again', 'Show older'])
      expect(await page.getByRole('button', { name }).isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Mark all read' }).isVisible()).toBe(true);
    // Fits the phone's width: nothing scrolls sideways.
    expect(
      await page.evaluate(
        () => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth,
      ),
    ).toBeLessThanOrEqual(360);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'embed-inbox.png'), fullPage: true });
    await page.close();
  });

  it('shows a new notification live, and marking read (by keyboard) lowers the API count', async () => {
    pageHtml = hostPage(stack.baseUrl, token);
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await page.goto(allowed.origin);
    await poll(
      () => items(page).count(),
      (n) => n === 2,
      'inbox items',
    );
    const loadedAt = await page.evaluate(() => (globalThis as unknown as { __loadedAt: number }).__loadedAt);

    await notify('103');
    await poll(
      () => items(page).count(),
      (n) => n === 3,
      'items after a live message',
    );
    await expect(items(page).first().textContent()).resolves.toContain('Ticket #103 assigned to you');
    await poll(
      () => badge(page).textContent(),
      (t) => t === '3',
      'badge after a live message',
    );
    await expect(page.locator('herald-inbox [aria-live]').textContent()).resolves.toContain('Ticket #103');
    // The same page: no reload happened.
    expect(await page.evaluate(() => (globalThis as unknown as { __loadedAt: number }).__loadedAt)).toBe(
      loadedAt,
    );
    expect(await apiUnread()).toBe(3);

    // Tab to the first "Mark read" button (across the shadow boundary) and press Enter.
    const focusedLabel = () =>
      page.evaluate(() => {
        let active: FocusedElement | null = (globalThis as unknown as BrowserGlobals).document.activeElement;
        while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
        return active?.getAttribute('aria-label') ?? active?.textContent ?? null;
      });
    let label: string | null = null;
    for (let i = 0; i < 20 && !label?.startsWith('Mark read: '); i++) {
      await page.keyboard.press('Tab');
      label = await focusedLabel();
    }
    expect(label).toMatch(/^Mark read: Ticket #\d+ assigned to you$/);
    await page.keyboard.press('Enter');
    await poll(apiUnread, (n) => n === 2, 'API unread count after mark read');
    await poll(
      () => badge(page).textContent(),
      (t) => t === '2',
      'badge after mark read',
    );
    // The button turned into its opposite and kept the focus.
    await poll(focusedLabel, (l) => l?.startsWith('Mark unread: ') === true, 'focused button');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'embed-inbox-live.png'), fullPage: true });

    await page.keyboard.press('Enter'); // mark unread again
    await poll(apiUnread, (n) => n === 3, 'API unread count after mark unread');

    await items(page)
      .last()
      .getByRole('button', { name: /^Archive: / })
      .click();
    await poll(
      () => items(page).count(),
      (n) => n === 2,
      'items after archive',
    );
    const listed = await stack.api('GET', `/v1/recipients/${externalId}/inbox`);
    expect(listed.body.items).toHaveLength(2);
    await poll(apiUnread, (n) => n === 2, 'API unread count after archive');

    await page.getByRole('button', { name: 'Mark all read' }).click();
    await poll(apiUnread, (n) => n === 0, 'API unread count after mark all read');
    await poll(
      () => badge(page).textContent(),
      (t) => t === '0',
      'badge after mark all read',
    );
    expect((await events(page)).at(-1)).toEqual(['count', 0]);
    await page.close();
  });

  it('gets no data on a page of an origin not configured', async () => {
    pageHtml = hostPage(stack.baseUrl, token);
    const page = await browser.newPage();
    await page.goto(refused.origin);
    await page.locator('herald-inbox[data-state="error"]').waitFor({ timeout: 30_000 });
    await expect(page.locator('herald-inbox [role="alert"]').textContent()).resolves.toMatch(
      /cannot be reached/,
    );
    expect(await items(page).count()).toBe(0);
    expect(await events(page)).toContainEqual(['error', 'network']);
    expect(await page.getByRole('button', { name: 'Try again' }).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'embed-inbox-refused.png'), fullPage: true });
    await page.close();
  });

  it('says so when the token is refused', async () => {
    pageHtml = hostPage(stack.baseUrl, 'heu_forged.token');
    const page = await browser.newPage();
    await page.goto(allowed.origin);
    await page.locator('herald-inbox[data-state="error"]').waitFor({ timeout: 30_000 });
    await expect(page.locator('herald-inbox [role="alert"]').textContent()).resolves.toMatch(
      /invalid end-user token/,
    );
    expect(await events(page)).toContainEqual(['error', 'unauthorized']);
    await page.close();
  });

  it('serves the bundle from the API with its type, and no traversal out of web/dist', async () => {
    const script = await fetch(`${stack.baseUrl}/embed/herald-inbox.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    expect(script.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(await script.text()).toContain('herald-inbox');
    const map = await fetch(`${stack.baseUrl}/embed/herald-inbox.js.map`);
    expect(map.headers.get('content-type')).toMatch(/^application\/json/);
    expect(
      ((await map.json()) as { sources: string[] }).sources.some((s: string) => s.endsWith('element.ts')),
    ).toBe(true);
    const etag = script.headers.get('etag')!;
    expect(
      (await fetch(`${stack.baseUrl}/embed/herald-inbox.js`, { headers: { 'if-none-match': etag } })).status,
    ).toBe(304);
    for (const probe of [
      '/embed/../package.json',
      '/embed/%2e%2e/package.json',
      '/embed/..%2fpackage.json',
    ]) {
      const answer = await rawGet(stack.baseUrl, probe);
      expect([probe, answer.status]).toEqual([probe, 404]);
      expect(answer.body).not.toContain('"dependencies"');
    }
  });

  describe('over a dist directory of its own', () => {
    let dir: string;
    let app: ServerType;
    let origin: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'herald-web-'));
      const dist = path.join(dir, 'dist');
      await mkdir(path.join(dist, 'center', 'icons'), { recursive: true });
      await writeFile(path.join(dist, 'center', 'index.html'), '<!doctype html><title>Center</title>');
      await writeFile(path.join(dist, 'center', 'center.css'), 'body{}');
      await writeFile(path.join(dist, 'center', 'icons', 'bell.svg'), '<svg/>');
      await writeFile(path.join(dist, 'center', '.hidden.css'), 'secret{}');
      await writeFile(path.join(dist, 'center.js'), 'void 0');
      await writeFile(path.join(dist, 'sw.js'), 'void 0');
      // Beside dist, where a traversal would land.
      await writeFile(path.join(dir, 'secret.txt'), 'TOP SECRET');
      await writeFile(path.join(dist, 'secret.txt'), 'NOT UNDER /app/ EITHER');
      const routes = new Hono()
        .route('/', createWebAssetRoutes(dist))
        .route('/missing', createWebAssetRoutes(path.join(dir, 'not-built')));
      app = await new Promise((resolve) => {
        const s = serve({ fetch: routes.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      });
      origin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => app.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    });

    it('serves the center page with a strict Content-Security-Policy', async () => {
      for (const pathname of ['/app', '/app/']) {
        const page = await fetch(`${origin}${pathname}`);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(page.headers.get('cache-control')).toBe('no-cache');
        const csp = page.headers.get('content-security-policy')!;
        expect(csp).toBe(PAGE_CSP);
        expect(csp).toContain("script-src 'self'");
        expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
        expect(csp).toContain("frame-ancestors 'none'");
      }
      const types: [string, string, string][] = [
        ['/app/center.js', 'text/javascript; charset=utf-8', 'public, max-age=300'],
        ['/app/sw.js', 'text/javascript; charset=utf-8', 'no-cache'],
        ['/app/center.css', 'text/css; charset=utf-8', 'public, max-age=300'],
        ['/app/icons/bell.svg', 'image/svg+xml', 'public, max-age=300'],
      ];
      for (const [pathname, type, cache] of types) {
        const answer = await fetch(`${origin}${pathname}`);
        expect([
          pathname,
          answer.status,
          answer.headers.get('content-type'),
          answer.headers.get('cache-control'),
        ]).toEqual([pathname, 200, type, cache]);
        expect(answer.headers.get('content-security-policy')).toBeNull();
      }
    });

    it('answers 404 to every way out of the directory, and to dotfiles', async () => {
      const probes = [
        '/app/../secret.txt',
        '/app/../../secret.txt',
        '/app/%2e%2e/secret.txt',
        '/app/%2e%2e/%2e%2e/secret.txt',
        '/app/..%2fsecret.txt',
        '/app/..%2f..%2fsecret.txt',
        '/app/..%5c..%5csecret.txt',
        '/app/icons/..%2f..%2fsecret.txt',
        '/app/%252e%252e/secret.txt',
        '/app/.hidden.css',
        '/app/icons/',
        '/app//etc/passwd',
        '/app/secret.txt%00.css',
        '/embed/..%2fsecret.txt',
      ];
      for (const probe of probes) {
        const answer = await rawGet(origin, probe);
        expect([probe, answer.status]).toEqual([probe, 404]);
        expect(answer.body).not.toMatch(/SECRET|secret\{\}|root:/);
      }
    });

    it('answers 503 in our error shape when web/dist was never built', async () => {
      const answer = await fetch(`${origin}/missing/embed/herald-inbox.js`);
      expect(answer.status).toBe(503);
      expect(await answer.json()).toEqual({
        error: {
          code: 'web_not_built',
          message: expect.stringContaining('build:web'),
          details: [expect.any(Object)],
        },
      });
    });
  });
});
