import path from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { launchChromium, SCREENSHOTS } from './support/browser';
import { createApp } from '../api/app';
import { TemplateRegistry } from '../templates/registry';
import { buildWeb } from '../web/build';
import {
  decrypt,
  newDevice,
  startPushService,
  vapid,
  VAPID_SUBJECT,
  type PushService,
} from './support/push-service';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * The page's globals that page.evaluate callbacks use: they run in the browser, but this file is
 * compiled without the DOM library.
 */
interface PageGlobals {
  sessionStorage: { getItem(key: string): string | null };
  document: { documentElement: { scrollWidth: number } };
  navigator: {
    serviceWorker: {
      getRegistration(
        scope: string,
      ): Promise<{ getNotifications(): Promise<{ title: string }[]> } | undefined>;
    };
  };
  PushManager: { prototype: { subscribe(): Promise<unknown>; getSubscription(): Promise<unknown> } };
}

/** Polls until `check` returns a value that is not undefined (a slow shared machine: generous waits). */
async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the notification center at /app, in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let pushService: PushService;

  beforeAll(async () => {
    const built = await buildWeb({ ifStale: true });
    expect(built.failed).toEqual([]);
    pushService = await startPushService();
    const pushEnv = {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT,
      HERALD_ALLOW_LOOPBACK_URLS: 'true',
    };
    stack = await startStack({
      channelEnv: pushEnv,
      apiEnv: { VAPID_PUBLIC_KEY: vapid.publicKey, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await pushService?.close();
  });

  interface Person {
    id: string;
    email: string;
    centerUrl: string;
  }

  async function person(name: string): Promise<Person> {
    const id = uniq(name);
    const email = `${id}@example.com`;
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name, email })).status).toBe(201);
    const minted = await stack.api('POST', `/v1/recipients/${id}/tokens`, {});
    expect(minted.status).toBe(201);
    return { id, email, centerUrl: minted.body.centerUrl };
  }

  /** Sends ticket.assigned to one person and waits until the notification has finished. */
  async function notify(to: Person, title: string, channels: string[] = ['inapp']) {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [to.id] },
      channels,
      data: { ticketId: '42', title },
    });
    expect(created.status).toBe(202);
    return waitForNotification(stack, created.body.id);
  }

  const unreadCount = async (who: Person) =>
    (await stack.api('GET', `/v1/recipients/${who.id}/inbox/unread-count`)).body.unreadCount as number;

  async function openCenter(who: Person): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${message.text()} ${message.location().url}`);
    });
    await page.goto(who.centerUrl);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
    // No script error, and no CSP violation (Chromium reports those on the console).
    expect(problems).toEqual([]);
    return { context, page };
  }

  it('answers the token request with a centerUrl that opens the page with the token in the fragment only', async () => {
    const ann = await person('ann');
    expect(ann.centerUrl).toMatch(new RegExp(`^${stack.baseUrl}/app#token=heu_[\\w.-]+$`));
    await notify(ann, 'Printer on floor 2 jammed');
    const { context, page } = await openCenter(ann);
    // The token left the address bar for sessionStorage.
    expect(page.url()).toBe(`${stack.baseUrl}/app`);
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).sessionStorage.getItem('herald.center.token'),
      ),
    ).toBe(new URL(ann.centerUrl).hash.slice('#token='.length));
    await page.getByText('Ticket #42 Printer on floor 2 jammed', { exact: false }).first().waitFor();
    await expect(page.locator('#badge').textContent()).resolves.toBe('1 unread');
    // A reload of the tab still works, from sessionStorage.
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor();
    await page.getByText('Printer on floor 2 jammed', { exact: false }).first().waitFor();
    await context.close();
  });

  it('builds centerUrl on PUBLIC_BASE_URL when it is set (an API behind a proxy)', async () => {
    const joy = await person('joy');
    const behindProxy = createApp({
      db: stack.db,
      temporal: stack.client,
      templates: await TemplateRegistry.load(),
      config: { ...stack.config, PUBLIC_BASE_URL: 'https://herald.example.com/' },
    });
    const answer = await behindProxy.request(`http://127.0.0.1/v1/recipients/${joy.id}/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(answer.status).toBe(201);
    const body = (await answer.json()) as { token: string; centerUrl: string };
    expect(body.centerUrl).toBe(`https://herald.example.com/app#token=${body.token}`);
  });

  it('shows new messages live, and marking one read changes the count in the API', async () => {
    const ben = await person('ben');
    await notify(ben, 'First ticket for Ben');
    const { context, page } = await openCenter(ben);
    await page.locator('#badge', { hasText: '1 unread' }).waitFor();

    await notify(ben, 'Second ticket arrives live');
    // No reload: the SSE stream brings it in.
    await page.getByText('Second ticket arrives live', { exact: false }).first().waitFor({ timeout: 30_000 });
    await page.locator('#badge', { hasText: '2 unread' }).waitFor({ timeout: 30_000 });
    expect(await unreadCount(ben)).toBe(2);

    const markRead = page.getByRole('button', { name: /^Mark read: .*Ticket #42/ }).first();
    await markRead.focus();
    await page.keyboard.press('Enter'); // keyboard operable
    await eventually(async () => ((await unreadCount(ben)) === 1 ? true : undefined), 'unread count 1');
    await page.locator('#badge', { hasText: '1 unread' }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'center-inbox-360.png') });
    await context.close();
  });

  it('switching in-app off for a category in the matrix changes the preferences, and the next notification keeps to it', async () => {
    const cleo = await person('cleo');
    const { context, page } = await openCenter(cleo);
    const matrix = page.locator('#matrix');
    const tickets = matrix.locator('fieldset[data-category="tickets"]');
    await expect(tickets.locator('legend').textContent()).resolves.toBe('Tickets');
    const allInApp = tickets.getByLabel('In-app for all tickets messages', { exact: true });
    const assignedInApp = tickets.getByLabel('In-app for A ticket was assigned to a technician.', {
      exact: true,
    });
    expect(await allInApp.isChecked()).toBe(true);
    expect(await assignedInApp.isChecked()).toBe(true);

    await allInApp.focus();
    await page.keyboard.press('Space');
    await matrix.getByText('Preferences saved.').waitFor();
    await eventually(
      async () => ((await assignedInApp.isChecked()) ? undefined : true),
      'the event row to follow',
    );
    const stored = await stack.api('GET', `/v1/recipients/${cleo.id}/preferences`);
    expect(stored.body).toEqual({ events: { 'category:tickets': { channels: { inapp: false } } } });
    // Other channels and categories are untouched.
    expect(await tickets.getByLabel('Email for all tickets messages', { exact: true }).isChecked()).toBe(
      true,
    );
    expect(await matrix.getByLabel('In-app for An automation job failed.', { exact: true }).isChecked()).toBe(
      true,
    );

    const view = await notify(cleo, 'Only by mail now', ['inapp', 'email']);
    const deliveries = view.recipients[0].deliveries as {
      channel: string;
      status: string;
      error: string | null;
    }[];
    const inapp = deliveries.find((d) => d.channel === 'inapp');
    expect(inapp).toMatchObject({ status: 'suppressed', error: 'opted out of inapp for category tickets' });
    expect(deliveries.find((d) => d.channel === 'email')?.status).toBe('sent');
    await stack.sink.waitFor((mails) => mails.some((m) => m.envelopeTo.includes(cleo.email)));
    expect(await unreadCount(cleo)).toBe(0);
    expect((await stack.api('GET', `/v1/recipients/${cleo.id}/inbox`)).body.items).toEqual([]);

    // One event back on in-app, against its category: an event switch.
    await assignedInApp.click();
    await eventually(async () => ((await assignedInApp.isChecked()) ? true : undefined), 'the event switch');
    await eventually(async () => {
      const now = (await stack.api('GET', `/v1/recipients/${cleo.id}/preferences`)).body;
      return now.events?.['ticket.assigned']?.channels?.inapp === true ? true : undefined;
    }, 'the event switch stored');
    // The category is now mixed.
    expect(
      await allInApp.evaluate((input) => (input as unknown as { indeterminate: boolean }).indeterminate),
    ).toBe(true);

    // Critical events are shown as not switchable, with the reason next to them.
    const security = matrix.locator('fieldset[data-category="security"]');
    const securityEmail = security.getByLabel(/^Email for A security event/);
    expect(await securityEmail.isDisabled()).toBe(true);
    expect(await securityEmail.isChecked()).toBe(true);
    const reasonId = await securityEmail.getAttribute('aria-describedby');
    await expect(page.locator(`#${reasonId}`).textContent()).resolves.toMatch(/^Always on: .*security/);
    const allSecurity = security.getByLabel('Email for all security messages', { exact: true });
    expect([await allSecurity.isDisabled(), await allSecurity.isChecked()]).toEqual([true, true]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'center-preferences-360.png'), fullPage: true });
    // Usable at 360 px: nothing makes the page itself scroll sideways.
    expect(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(360);
    await context.close();
  });

  it('another person’s token shows only their own messages', async () => {
    const dan = await person('dan');
    const eve = await person('eve');
    await notify(dan, 'Dan private ticket');
    await notify(eve, 'Eve private ticket');
    const { context, page } = await openCenter(eve);
    await page.getByText('Eve private ticket', { exact: false }).first().waitFor();
    await expect(page.locator('#badge').textContent()).resolves.toBe('1 unread');
    expect(await page.getByText('Dan private ticket', { exact: false }).count()).toBe(0);
    // What the page's token opens for Dan's routes: nothing.
    const status = await page.evaluate(async (danId) => {
      const token = (globalThis as unknown as PageGlobals).sessionStorage.getItem('herald.center.token');
      const answer = await fetch(`/v1/recipients/${danId}/inbox`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return answer.status;
    }, dan.id);
    expect(status).toBe(404);
    await context.close();
  });

  it('sets quiet hours, the time zone and a digest', async () => {
    const fay = await person('fay');
    const { context, page } = await openCenter(fay);
    const quiet = page.locator('#quiet-hours');
    await quiet.getByLabel('Hold messages during quiet hours').check();
    await quiet.getByLabel('From').fill('21:30');
    await quiet.getByLabel('Until').fill('06:45');
    await quiet.getByLabel('Time zone').selectOption('Africa/Harare');
    await quiet.getByRole('button', { name: 'Save quiet hours' }).click();
    await quiet.getByText('Quiet hours saved.').waitFor();

    const digest = page.locator('#digest');
    await digest.getByLabel('Tickets').check();
    await digest.getByLabel('How often').selectOption('daily');
    expect(await digest.getByLabel('On').isVisible()).toBe(false);
    await digest.getByLabel('How often').selectOption('weekly');
    await digest.getByLabel('At').selectOption('17');
    await digest.getByLabel('On').selectOption('5');
    await digest.getByRole('button', { name: 'Save digest' }).click();
    await digest.getByText('Digest saved.').waitFor();

    const recipient = (await stack.api('GET', `/v1/recipients/${fay.id}`)).body;
    expect(recipient).toMatchObject({
      timezone: 'Africa/Harare',
      quietHours: { start: '21:30', end: '06:45' },
      digest: { events: ['category:tickets'], frequency: 'weekly', hour: 17, weekday: 5 },
      email: fay.email, // what the person cannot set stays as the backend put it
    });
    await context.close();
  });

  it('the routes behind the page: delivery settings change only the fields given, refuse bad input by field, and are the person’s own', async () => {
    const ivy = await person('ivy');
    const other = await person('other');
    const token = new URL(ivy.centerUrl).hash.slice('#token='.length);
    const asIvy = { authorization: `Bearer ${token}` };
    const settings = `/v1/recipients/${ivy.id}/delivery-settings`;

    const set = await stack.api('PATCH', settings, { quietHours: { start: '22:00', end: '07:00' } }, asIvy);
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ timezone: null, quietHours: { start: '22:00', end: '07:00' }, digest: null });
    const zoned = await stack.api('PATCH', settings, { timezone: 'Asia/Tokyo' }, asIvy);
    expect(zoned.body).toEqual({
      timezone: 'Asia/Tokyo',
      quietHours: { start: '22:00', end: '07:00' },
      digest: null,
    });
    expect((await stack.api('PATCH', settings, { quietHours: null }, asIvy)).body.quietHours).toBeNull();

    const badZone = await stack.api('PATCH', settings, { timezone: 'Mars/Olympus' }, asIvy);
    expect(badZone.status).toBe(400);
    expect(badZone.body.error.details).toEqual([{ path: 'timezone', message: 'not an IANA time zone' }]);
    const badTime = await stack.api(
      'PATCH',
      settings,
      { quietHours: { start: '25:00', end: '07:00' } },
      asIvy,
    );
    expect(badTime.status).toBe(400);
    expect(badTime.body.error.details[0].path).toBe('quietHours.start');
    const badDigest = await stack.api(
      'PATCH',
      settings,
      { digest: { events: ['category:tickets', 'no.such'] } },
      asIvy,
    );
    expect(badDigest.status).toBe(422);
    expect(badDigest.body.error.details).toEqual([
      { path: 'digest.events[1]', message: expect.stringContaining("'no.such'") },
    ]);
    const unknownField = await stack.api('PATCH', settings, { email: 'x@example.com' }, asIvy);
    expect(unknownField.status).toBe(400);

    // Another person's settings and matrix look like ones that do not exist.
    for (const path of [
      `/v1/recipients/${other.id}/delivery-settings`,
      `/v1/recipients/${other.id}/preferences/matrix`,
    ])
      expect((await stack.api('GET', path, undefined, asIvy)).status).toBe(404);
    expect(
      (await stack.api('PATCH', `/v1/recipients/${other.id}/delivery-settings`, { timezone: 'UTC' }, asIvy))
        .status,
    ).toBe(404);

    // The matrix follows the rules of common/preferences.ts, group defaults included.
    expect(
      (await stack.api('PUT', `/v1/recipients/${ivy.id}/preferences`, { channels: { sms: false } })).status,
    ).toBe(200);
    const matrix = (await stack.api('GET', `/v1/recipients/${ivy.id}/preferences/matrix`, undefined, asIvy))
      .body;
    const jobs = matrix.categories.find((c: { category: string }) => c.category === 'jobs');
    const failed = jobs.events.find((e: { event: string }) => e.event === 'job.failed');
    expect(failed.channels.sms).toEqual({ send: false, reason: 'opted out of sms' });
    expect(failed.channels.email).toEqual({ send: true, reason: null });
    expect(matrix.categories.some((c: { category: string }) => c.category === 'digest')).toBe(false);
  });

  describe('push', () => {
    /** The CDP session and the worker's registration id, once the page has registered /app/sw.js. */
    async function workerOf(page: Page): Promise<{ cdp: CDPSession; registrationId: string }> {
      const cdp = await page.context().newCDPSession(page);
      let registrationId: string | undefined;
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => r.scopeURL === `${stack.baseUrl}/app/` && !r.isDeleted);
        if (ours) registrationId = ours.registrationId;
      });
      await cdp.send('ServiceWorker.enable');
      return { cdp, registrationId: await eventually(async () => registrationId, 'the worker registration') };
    }

    const notificationTitles = (page: Page) =>
      page.evaluate(async () => {
        const registration = await (
          globalThis as unknown as PageGlobals
        ).navigator.serviceWorker.getRegistration('/app/');
        return (await registration!.getNotifications()).map((n) => n.title);
      });

    it('the service worker shows a push message delivered through the DevTools protocol', async () => {
      const gil = await person('gil');
      const { context, page } = await openCenter(gil);
      await context.grantPermissions(['notifications'], { origin: stack.baseUrl });
      const { cdp, registrationId } = await workerOf(page);
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: stack.baseUrl,
        registrationId,
        data: JSON.stringify({
          title: 'Backup failed on nas-01',
          body: 'Disk full',
          url: 'https://example.com/b/1',
        }),
      });
      const titles = await eventually(async () => {
        const shown = await notificationTitles(page);
        return shown.length > 0 ? shown : undefined;
      }, 'a notification');
      expect(titles).toEqual(['Backup failed on nas-01']);
      await context.close();
    });

    it('opting in registers the subscription with Herald; its push, relayed to the worker, shows; opting out deletes it', async () => {
      const hal = await person('hal');
      // The browser's own push service (FCM) cannot be reached here: the page gets a subscription
      // to the loopback push service instead, with keys the test holds to decrypt what Herald sends.
      const device = newDevice(`${pushService.origin}/push/${uniq('hal')}`);
      const context = await browser.newContext({ viewport: { width: 360, height: 800 } });
      await context.grantPermissions(['notifications'], { origin: stack.baseUrl });
      await context.addInitScript((json) => {
        let current: unknown = null;
        const fake = {
          endpoint: json.endpoint,
          toJSON: () => json,
          unsubscribe: async () => {
            current = null;
            return true;
          },
        };
        const manager = (globalThis as unknown as PageGlobals).PushManager.prototype;
        manager.subscribe = async function () {
          current = fake;
          return fake;
        };
        manager.getSubscription = async function () {
          return current;
        };
      }, device.json);
      const page = await context.newPage();
      await page.goto(hal.centerUrl);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });

      const push = page.locator('#push');
      await push.getByRole('button', { name: 'Turn on push notifications' }).click();
      await push.getByText('Push notifications are on for this device.').waitFor();
      const rows = async () =>
        (
          await stack.db.query(
            'SELECT endpoint FROM push_subscriptions WHERE tenant_id = $1 AND external_id = $2',
            [stack.tenantId, hal.id],
          )
        ).rows.map((r) => r.endpoint);
      expect(await rows()).toEqual([device.endpoint]);

      const view = await notify(hal, 'Router down at branch 7', ['push']);
      expect(view.recipients[0].deliveries[0].status).toBe('sent');
      const [request] = pushService.requestsTo(new URL(device.endpoint).pathname);
      const payload = decrypt(request!, device) as { title: string };
      expect(payload.title).toBe('#42 assigned: Router down at branch 7');

      const { cdp, registrationId } = await workerOf(page);
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: stack.baseUrl,
        registrationId,
        data: JSON.stringify(payload),
      });
      await eventually(async () => {
        const shown = await notificationTitles(page);
        return shown.includes(payload.title) ? true : undefined;
      }, 'the relayed notification');

      await push.getByRole('button', { name: 'Turn off push notifications' }).click();
      await push.getByText('Push notifications are off for this device.').waitFor();
      expect(await rows()).toEqual([]);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'center-push.png'), fullPage: true });
      await context.close();
    });
  });
});
