import { createKey } from './support/auth';
import { expectError } from './support/expect-error';
import { startStack, uniq, type Stack } from './support/stack';
import { mailTo, otherTenant, sendAndCollect, type TenantApi } from './support/tenant-mail';

/** A tenant's brand in its mails (the real worker, the loopback SMTP sink), and in no other tenant's. */

const BRAND = {
  name: 'Acme <Support> & Co',
  color: '#0B7A75',
  logoUrl: 'https://cdn.acme.example/logo.png?v=2&size=80',
  footer: 'Acme Ltd · help@acme.example',
  address: '12 Samora Machel Avenue\nHarare',
};

describe('brands', () => {
  let stack: Stack;
  let a: TenantApi;
  let b: TenantApi;
  beforeAll(async () => {
    stack = await startStack();
    a = stack.api;
    b = (await otherTenant(stack)).api;
  });
  afterAll(async () => {
    await stack.close();
  });

  const sendJobFailed = async (api: TenantApi) => {
    const address = `${uniq('ops')}@example.com`;
    const sent = await sendAndCollect(stack, api, {
      event: 'job.failed',
      to: { emails: [address] },
      data: { jobName: 'Nightly backup', error: 'disk full' },
      channels: ['email'],
    });
    expect(sent.status).toBe('completed');
    return mailTo(sent.mails, address);
  };

  it("GET shows the operator's brand while the tenant has none", async () => {
    const response = await a('GET', '/v1/settings/brand');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      name: stack.config.BRAND_NAME,
      color: '#1f4fd1',
      logoUrl: null,
      footer: null,
      address: null,
      defaultLocale: null,
      configured: false,
      updatedAt: null,
    });
  });

  it.each([
    { field: 'logoUrl', value: 'http://cdn.acme.example/logo.png', says: /https/ },
    { field: 'logoUrl', value: 'javascript:alert(1)', says: /https/ },
    { field: 'color', value: 'red', says: /#rrggbb/ },
    { field: 'color', value: '#fff;background:url(x)', says: /#rrggbb/ },
    { field: 'color', value: '#12345g', says: /#rrggbb/ },
    { field: 'defaultLocale', value: 'not a locale', says: /BCP 47/ },
    { field: 'name', value: 'Two\nlines', says: /one line/ },
  ])('refuses $field $value with 400 naming the field', async ({ field, value, says }) => {
    const response = await a('PUT', '/v1/settings/brand', { ...BRAND, [field]: value });
    expectError(response, 400, 'validation_failed');
    expect(response.body.error.details).toEqual([{ path: field, message: expect.stringMatching(says) }]);
    expect((await a('GET', '/v1/settings/brand')).body.configured).toBe(false);
  });

  it("renders A's name, colour, logo, footer and address in A's mail only", async () => {
    const put = await a('PUT', '/v1/settings/brand', BRAND);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ ...BRAND, color: '#0b7a75', configured: true });

    const [mailA, mailB] = await Promise.all([sendJobFailed(a), sendJobFailed(b)]);
    // The header background, the links: the brand colour and nothing of the default left.
    expect(mailA.html).toContain('background-color:#0b7a75');
    expect(mailA.html).not.toMatch(/#1f4fd1/i);
    expect(mailA.html).toContain('<img src="https://cdn.acme.example/logo.png?v=2&amp;size=80"');
    // Brand values are data: escaped in the HTML.
    expect(mailA.html).toContain('alt="Acme &lt;Support&gt; &amp; Co"');
    expect(mailA.html).not.toContain('<Support>');
    expect(mailA.html).toContain('Acme Ltd · help@acme.example');
    expect(mailA.html).toContain('12 Samora Machel Avenue\nHarare');
    expect(mailA.html).toContain('recipient of Acme &lt;Support&gt; &amp; Co notifications');
    expect(mailA.text).toContain('Acme Ltd · help@acme.example\n12 Samora Machel Avenue\nHarare\n');
    expect(mailA.text).toContain('recipient of Acme <Support> & Co notifications');

    expect(mailB.html).toContain('background-color:#1f4fd1');
    expect(mailB.html).not.toContain('0b7a75');
    expect(mailB.html).not.toContain('Acme');
    expect(mailB.html).not.toContain('<img');
    expect(mailB.text).toContain('recipient of Herald Test notifications');
  });

  it('SMS and push templates carry the brand name (preview)', async () => {
    const preview = await a('POST', '/v1/templates/job.failed/preview', {});
    expect(preview.status).toBe(200);
    expect(preview.body.sms).toMatch(/^Acme <Support> & Co: Job Push VLAN changes failed/);
    expect(preview.body.email.html).toContain('background-color:#0b7a75');
    const other = await b('POST', '/v1/templates/job.failed/preview', {});
    expect(other.body.sms).toMatch(new RegExp(`^${stack.config.BRAND_NAME}: Job`));
  });

  it("DELETE brings back the operator's brand", async () => {
    expect((await a('DELETE', '/v1/settings/brand')).status).toBe(204);
    expect((await a('GET', '/v1/settings/brand')).body.configured).toBe(false);
    const mail = await sendJobFailed(a);
    expect(mail.html).not.toContain('Acme');
    expect(mail.html).toContain('background-color:#1f4fd1');
    expectError(await a('DELETE', '/v1/settings/brand'), 404, 'not_found');
  });

  it('needs the manage scope', async () => {
    const { key } = await createKey(stack.db, stack.tenantId, ['send', 'read']);
    const response = await stack.api('PUT', '/v1/settings/brand', BRAND, { authorization: `Bearer ${key}` });
    expect(response.status).toBe(403);
  });
});
