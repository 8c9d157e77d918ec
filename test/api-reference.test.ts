import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, SCREENSHOTS } from './support/browser';
import { startStack, type Stack } from './support/stack';

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
};

describe('the API reference at /docs, in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    // The page needs the API only: no worker.
    stack = await startStack({ worker: false });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('renders POST /v1/notifications with its request schema, scope and bearer scheme, all from this server', async () => {
    const context = await browser.newContext();
    const requested: string[] = [];
    // Every request the page makes is recorded; one leaving loopback is also stopped here.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requested.push(url);
      return isLoopback(url) ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/docs`);
    await expect(page.title()).resolves.toBe('Herald API');

    // The README's first example is on the page, and the bearer scheme is the selected authentication.
    await page.getByText('Selected Auth Type: bearerAuth').waitFor({ timeout: 60_000 });
    await page.getByText('Bearer Token', { exact: false }).first().waitFor();
    await page.getByRole('heading', { name: 'Send a notification' }).first().waitFor();

    await page
      .getByRole('link', { name: /Send a notification \(starts its workflow\)/ })
      .first()
      .click();
    const operation = page
      .locator('section')
      .filter({ has: page.getByRole('heading', { name: 'Send a notification (starts its workflow)' }) })
      .first();
    await operation.getByText('NotificationRequest').first().waitFor();
    const fields = await operation.locator('.property-name').allInnerTexts();
    expect(fields).toEqual(expect.arrayContaining(['event', 'to', 'data', 'priority', 'idempotencyKey']));
    // The nested audience of `to` is shown too.
    expect(fields).toEqual(expect.arrayContaining(['recipients', 'groups', 'emails']));
    expect(await operation.innerText()).toMatch(/Requires scope\s+send\./);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'api-reference.png'), fullPage: false });

    // The page loaded Scalar's script from us, then the document; nothing else anywhere.
    expect(requested).toEqual(
      expect.arrayContaining([`${stack.baseUrl}/docs/scalar.js`, `${stack.baseUrl}/openapi.json`]),
    );
    expect(requested.filter((url) => !isLoopback(url))).toEqual([]);
    await context.close();
  });
});
