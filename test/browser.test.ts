import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, SCREENSHOTS } from './support/browser';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

describe('the pages, in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack({ sink: { httpPort: 0 } });
    browser = await launchChromium();
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
});
