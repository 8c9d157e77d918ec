import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './support/env';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/** scripts/test.sh installs Debian's chromium when it is missing; CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, '.tmp', 'screenshots');

describe('the pages, in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack({ sink: { httpPort: 0 } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await mkdir(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('the mail view shows a sent notification, with hostile data inert', async () => {
    const email = `${uniq('viewer')}@example.com`;
    const title = 'Printer <img src=x onerror="window.__pwned=1"> jammed';
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { emails: [email] },
      data: { ticketId: '77', title },
    });
    await waitForNotification(stack, created.body.id);

    const page = await browser.newPage();
    await page.goto(stack.sink.webUrl!);
    const link = page.getByRole('link', { name: `[#77] Assigned to you: ${title}` });
    await link.click();
    await page.waitForURL(/\/messages\/\d+$/);
    const frame = page.frameLocator('iframe');
    await frame.getByText('Printer <img src=x onerror="window.__pwned=1"> jammed').first().waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'mail-view.png'), fullPage: true });
    // The value was escaped into text: no element was created from it, no handler ran.
    expect(await frame.locator('img[src="x"]').count()).toBe(0);
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
    await page.close();
  });

  it('the docs page lists the API in a browser', async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/docs`);
    await expect(page.title()).resolves.toBe('Herald API');
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(13);
    await page.getByRole('cell', { name: '/v1/notifications/{id}' }).first().waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'docs.png'), fullPage: true });
    await page.close();
  });
});
