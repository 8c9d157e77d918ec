import { TemplateRegistry } from '../templates/registry';
import { expectError } from './support/expect-error';
import { startStack, uniq, type Stack } from './support/stack';
import { mailTo, otherTenant, sendAndCollect, type TenantApi } from './support/tenant-mail';

/**
 * Per-tenant templates through the real API and worker: tenant A overrides ticket.assigned and adds
 * an event of its own; tenant B, on the same worker and mail sink, keeps the built-in catalogue.
 */

const OVERRIDE = {
  subject: 'A-override #{{ ticketId }}: {{ title }}',
  mjml: [
    '<mj-section background-color="#ffffff">',
    '  <mj-column>',
    '    <mj-text>Tenant A body for {{ title }}{% if assignee %} ({{ assignee }}){% endif %}</mj-text>',
    '  </mj-column>',
    '</mj-section>',
  ].join('\n'),
  text: 'Tenant A text for {{ title }}',
};

const CUSTOM_MANIFEST = (event: string) => ({
  event,
  category: 'billing',
  description: 'An invoice was paid.',
  defaultChannels: ['email'],
  defaultPriority: 'normal',
  variables: {
    invoiceId: { type: 'string', required: true },
    amount: { type: 'number', required: true },
  },
  sample: { invoiceId: 'INV-1', amount: 12.5 },
});

const CUSTOM_VARIANTS = {
  subject: 'Invoice {{ invoiceId }} paid',
  mjml: '<mj-section><mj-column><mj-text>Invoice {{ invoiceId }}: {{ amount }} received.</mj-text></mj-column></mj-section>',
  text: 'Invoice {{ invoiceId }}: {{ amount }} received.',
};

describe('per-tenant templates', () => {
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

  const assigned = (title: string, address: string) => ({
    event: 'ticket.assigned',
    to: { emails: [address] },
    data: { ticketId: '77', title },
    channels: ['email'],
  });

  /** One ticket.assigned email to a fresh address, as the tenant; the mail that arrived. */
  const sendAssigned = async (api: TenantApi, title: string) => {
    const address = `${uniq('to')}@example.com`;
    const { mails, status } = await sendAndCollect(stack, api, assigned(title, address));
    expect(status).toBe('completed');
    return mailTo(mails, address);
  };

  it("uses A's override of ticket.assigned for A only: B gets the built-in mail", async () => {
    const put = await a('PUT', '/v1/templates/ticket.assigned', { variants: OVERRIDE });
    expect(put.status).toBe(200);
    expect(put.body.builtIn).toBe(true);

    const [mailA, mailB] = await Promise.all([
      sendAssigned(a, 'Printer on fire'),
      sendAssigned(b, 'Printer on fire'),
    ]);
    expect(mailA.subject).toBe('A-override #77: Printer on fire');
    expect(mailA.html).toContain('Tenant A body for Printer on fire');
    expect(mailA.text).toContain('Tenant A text for Printer on fire');
    // The layout is still around the tenant's section, its footer under the tenant's text.
    expect(mailA.text).toContain('You receive this because you are a recipient of');
    expect(mailB.subject).toBe('[#77] Assigned to you: Printer on fire');
    expect(mailB.html).not.toContain('Tenant A body');
    expect(mailB.text).toContain('Ticket #77 Printer on fire has been assigned to you.');
  });

  it("GET shows which variants are the tenant's and which built in, per locale; B sees only built-in ones", async () => {
    const view = await a('GET', '/v1/templates/ticket.assigned');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ event: 'ticket.assigned', category: 'tickets', builtIn: true });
    const byLocale = Object.fromEntries(view.body.locales.map((l: { locale: string }) => [l.locale, l]));
    expect(Object.keys(byLocale)).toEqual(['default', 'fr', 'pt']);
    expect(byLocale.default.variants).toEqual({
      subject: 'tenant',
      mjml: 'tenant',
      text: 'tenant',
      sms: 'built-in',
      push: 'built-in',
      inapp: 'built-in',
    });
    expect(byLocale.fr.variants.subject).toBe('built-in');
    expect(view.body.overrides).toEqual([
      { locale: 'default', variants: OVERRIDE, updatedAt: expect.any(String) },
    ]);

    const other = await b('GET', '/v1/templates/ticket.assigned');
    expect(other.status).toBe(200);
    expect(other.body.overrides).toEqual([]);
    expect(other.body.locales[0].variants.subject).toBe('built-in');
  });

  it.each([
    {
      name: 'an MJML error (unknown element)',
      variants: {
        ...OVERRIDE,
        mjml: '<mj-section>\n  <mj-column>\n    <mj-bogus>x</mj-bogus>\n  </mj-column>\n</mj-section>',
      },
      path: 'variants.mjml',
      line: 3,
      says: /mj-bogus/,
    },
    {
      name: 'an MJML error (element not closed)',
      variants: {
        ...OVERRIDE,
        mjml: '<mj-section>\n  <mj-column>\n    <mj-text>x\n  </mj-column>\n</mj-section>',
      },
      path: 'variants.mjml',
      line: 4,
      says: /closes <mj-text> opened on line 3/,
    },
    {
      name: 'an mj-include (it would read a file on the server)',
      variants: {
        ...OVERRIDE,
        mjml: '<mj-section>\n  <mj-column>\n    <mj-include path="/etc/passwd" />\n  </mj-column>\n</mj-section>',
      },
      path: 'variants.mjml',
      line: 3,
      says: /mj-include is not allowed/,
    },
    {
      name: 'a Liquid syntax error',
      variants: { ...OVERRIDE, text: 'First line\n{% if title %}never closed' },
      path: 'variants.text',
      line: 2,
      says: /not closed/,
    },
    {
      name: 'a variable the manifest does not declare',
      variants: { ...OVERRIDE, sms: 'Hello\n\nTicket {{ ticketId }} for {{ customerName }}' },
      path: 'variants.sms',
      line: 3,
      says: /customerName is not declared in the manifest of ticket\.assigned/,
    },
    {
      name: 'an unknown filter in a push title',
      variants: { ...OVERRIDE, push: { title: '{{ title | shout }}', body: 'x' } },
      path: 'variants.push.title',
      line: 1,
      says: /undefined filter: shout/,
    },
    {
      name: 'a field recipients do not have',
      variants: { ...OVERRIDE, subject: 'For {{ recipient.phoneNumber }}' },
      path: 'variants.subject',
      line: 1,
      says: /recipient has no field phoneNumber/,
    },
  ])('refuses $name with 422 naming the variant and line; the previous override stays', async (c) => {
    const response = await a('PUT', '/v1/templates/ticket.assigned', { variants: c.variants });
    expectError(response, 422, 'validation_failed');
    expect(response.body.error.details).toEqual([
      { path: c.path, message: expect.stringMatching(new RegExp(`^line ${c.line}: `)) },
    ]);
    expect(response.body.error.details[0].message).toMatch(c.says);
    const view = await a('GET', '/v1/templates/ticket.assigned');
    expect(view.body.overrides[0].variants).toEqual(OVERRIDE);
  });

  it('still sends with the previous override after the refused ones', async () => {
    const mail = await sendAssigned(a, 'Still mine');
    expect(mail.subject).toBe('A-override #77: Still mine');
  });

  it("preview renders the tenant's override (A) and the built-in template (B)", async () => {
    const data = { ticketId: '5', title: 'Preview me' };
    const [ownPreview, builtIn] = await Promise.all([
      a('POST', '/v1/templates/ticket.assigned/preview', { data }),
      b('POST', '/v1/templates/ticket.assigned/preview', { data }),
    ]);
    expect(ownPreview.status).toBe(200);
    expect(ownPreview.body.email.subject).toBe('A-override #5: Preview me');
    expect(ownPreview.body.sms).toMatch(/Ticket #5 Preview me assigned to you/);
    expect(builtIn.body.email.subject).toBe('[#5] Assigned to you: Preview me');
  });

  it('DELETE reverts to the built-in template, and the worker notices at once', async () => {
    const removed = await a('DELETE', '/v1/templates/ticket.assigned');
    expect(removed.status).toBe(204);
    const view = await a('GET', '/v1/templates/ticket.assigned');
    expect(view.body.overrides).toEqual([]);
    expect(view.body.locales[0].variants.subject).toBe('built-in');
    const mail = await sendAssigned(a, 'Back to normal');
    expect(mail.subject).toBe('[#77] Assigned to you: Back to normal');
    expectError(await a('DELETE', '/v1/templates/ticket.assigned'), 404, 'not_found');
  });

  it('a locale override is removed on its own with ?locale=', async () => {
    const put = await a('PUT', '/v1/templates/ticket.assigned', {
      locale: 'fr',
      variants: { subject: 'A-fr #{{ ticketId }}' },
    });
    expect(put.status).toBe(200);
    const fr = put.body.locales.find((l: { locale: string }) => l.locale === 'fr');
    expect(fr.variants).toMatchObject({ subject: 'tenant', mjml: 'built-in' });
    expectError(await a('DELETE', '/v1/templates/ticket.assigned?locale=pt'), 404, 'not_found');
    expectError(
      await a('DELETE', '/v1/templates/ticket.assigned?locale=not_a_locale!'),
      400,
      'validation_failed',
    );
    expect((await a('DELETE', '/v1/templates/ticket.assigned?locale=fr')).status).toBe(204);
    expect((await a('GET', '/v1/templates/ticket.assigned')).body.overrides).toEqual([]);
  });

  it("compiles a tenant's templates once per version: the same view until a change", async () => {
    const registry = await TemplateRegistry.load();
    const b2 = await otherTenant(stack, 'tenant-c');
    // No templates of its own: the built-in catalogue itself, nothing compiled.
    expect(await registry.forTenant(stack.db, b2.tenantId)).toBe(registry);
    expect(
      (await b2.api('PUT', '/v1/templates/job.failed', { variants: { subject: 'C1 {{ jobName }}' } })).status,
    ).toBe(200);
    const [first, again] = await Promise.all([
      registry.forTenant(stack.db, b2.tenantId),
      registry.forTenant(stack.db, b2.tenantId),
    ]);
    expect(again).toBe(first);
    expect(await registry.forTenant(stack.db, b2.tenantId)).toBe(first);
    expect(
      (await b2.api('PUT', '/v1/templates/job.failed', { variants: { subject: 'C2 {{ jobName }}' } })).status,
    ).toBe(200);
    const changed = await registry.forTenant(stack.db, b2.tenantId);
    expect(changed).not.toBe(first);
    const render = (view: TemplateRegistry) =>
      view.renderEmail('job.failed', {
        data: { jobName: 'Sync', error: 'x' },
        recipient: { name: null, email: null, externalId: null },
        brand: { name: 'C' },
        notification: { id: '1', event: 'job.failed', priority: 'normal' },
      }).subject;
    expect([render(first), render(changed), render(registry)]).toEqual([
      'C1 Sync',
      'C2 Sync',
      'Job failed: Sync',
    ]);
  });

  describe('an event of the tenant’s own', () => {
    const event = `acme.invoice_paid.${uniq('e').slice(2)}`;

    it('is added with its manifest, listed and sent for that tenant only', async () => {
      const put = await a('PUT', `/v1/templates/${event}`, {
        manifest: CUSTOM_MANIFEST(event),
        variants: CUSTOM_VARIANTS,
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ event, builtIn: false, category: 'billing' });

      const listA = await a('GET', '/v1/templates');
      const listB = await b('GET', '/v1/templates');
      expect(listA.body.items).toContainEqual(expect.objectContaining({ event, builtIn: false }));
      expect(listB.body.items.map((i: { event: string }) => i.event)).not.toContain(event);
      expect(listB.body.items.length).toBe(listA.body.items.length - 1);

      const address = `${uniq('billing')}@example.com`;
      const sent = await sendAndCollect(stack, a, {
        event,
        to: { emails: [address] },
        data: { invoiceId: 'INV-9', amount: 40 },
      });
      expect(sent.status).toBe('completed');
      const mail = mailTo(sent.mails, address);
      expect(mail.subject).toBe('Invoice INV-9 paid');
      expect(mail.text).toContain('Invoice INV-9: 40 received.');

      // Its variables are checked like a built-in event's.
      const missing = await a('POST', '/v1/notifications', {
        event,
        to: { emails: [address] },
        data: { invoiceId: 'x' },
      });
      expectError(missing, 422, 'validation_failed');
      expect(missing.body.error.details).toEqual([
        { path: 'data.amount', message: expect.stringMatching(/required/) },
      ]);
    });

    it('an optional variable left out prints nothing, guarded or not; the mail is sent', async () => {
      const own = `acme.note_added.${uniq('e').slice(2)}`;
      const put = await a('PUT', `/v1/templates/${own}`, {
        manifest: {
          ...CUSTOM_MANIFEST(own),
          variables: { invoiceId: { type: 'string', required: true }, note: { type: 'string' } },
          sample: { invoiceId: 'INV-1', note: 'thanks' },
        },
        variants: {
          subject: 'Invoice {{ invoiceId }}',
          mjml: '<mj-section><mj-column><mj-text>Note: [{{ note }}]{% if note %} given{% endif %}</mj-text></mj-column></mj-section>',
          text: 'Note: [{{ note }}]{% if note %} given{% endif %}',
        },
      });
      expect(put.status).toBe(200);
      const address = `${uniq('note')}@example.com`;
      const sent = await sendAndCollect(stack, a, {
        event: own,
        to: { emails: [address] },
        data: { invoiceId: 'INV-2' },
      });
      expect(sent.status).toBe('completed');
      const mail = mailTo(sent.mails, address);
      expect(mail.text).toContain('Note: []');
      expect(mail.text).not.toContain('given');
      const withNote = await sendAndCollect(stack, a, {
        event: own,
        to: { emails: [address] },
        data: { invoiceId: 'INV-3', note: 'late' },
      });
      expect(mailTo(withNote.mails, address).text).toContain('Note: [late] given');
    });

    it('does not exist for another tenant: 422 on send, 404 on GET and preview', async () => {
      const send = await b('POST', '/v1/notifications', {
        event,
        to: { emails: ['b@example.com'] },
        data: { invoiceId: 'INV-1', amount: 1 },
      });
      expectError(send, 422, 'validation_failed');
      expect(send.body.error.details).toEqual([
        { path: 'event', message: expect.stringMatching(/unknown event/) },
      ]);
      expectError(await b('GET', `/v1/templates/${event}`), 404, 'not_found');
      expectError(await b('POST', `/v1/templates/${event}/preview`, {}), 404, 'not_found');
      expectError(await b('DELETE', `/v1/templates/${event}`), 404, 'not_found');
    });

    it('keeps its manifest when a later PUT leaves it out; DELETE removes the event', async () => {
      const put = await a('PUT', `/v1/templates/${event}`, {
        variants: { ...CUSTOM_VARIANTS, subject: 'Paid: {{ invoiceId }}' },
      });
      expect(put.status).toBe(200);
      expect(put.body.variables).toEqual(CUSTOM_MANIFEST(event).variables);
      expect((await a('DELETE', `/v1/templates/${event}`)).status).toBe(204);
      expectError(await a('GET', `/v1/templates/${event}`), 404, 'not_found');
    });

    it('needs a manifest, the email variants, declared variables; a built-in manifest stays', async () => {
      const other = `acme.other.${uniq('e').slice(2)}`;
      const noManifest = await a('PUT', `/v1/templates/${other}`, { variants: CUSTOM_VARIANTS });
      expectError(noManifest, 422, 'validation_failed');
      expect(noManifest.body.error.details).toEqual([
        { path: 'manifest', message: expect.stringMatching(/not in the catalogue/) },
      ]);

      const noMjml = await a('PUT', `/v1/templates/${other}`, {
        manifest: CUSTOM_MANIFEST(other),
        variants: { subject: 'x', text: 'y' },
      });
      expectError(noMjml, 422, 'validation_failed');
      expect(noMjml.body.error.details).toEqual([
        { path: 'variants.mjml', message: expect.stringMatching(/required/) },
      ]);

      const badManifest = await a('PUT', `/v1/templates/${other}`, {
        manifest: { ...CUSTOM_MANIFEST(other), defaultChannels: ['pigeon'], event: 'something.else' },
        variants: CUSTOM_VARIANTS,
      });
      expectError(badManifest, 422, 'validation_failed');
      expect(badManifest.body.error.details.map((d: { path: string }) => d.path)).toEqual([
        'manifest.defaultChannels[0]',
      ]);

      const builtInManifest = await a('PUT', '/v1/templates/ticket.assigned', {
        manifest: CUSTOM_MANIFEST('ticket.assigned'),
        variants: { subject: 'x' },
      });
      expectError(builtInManifest, 422, 'validation_failed');
      expect(builtInManifest.body.error.details).toEqual([
        { path: 'manifest', message: expect.stringMatching(/built in/) },
      ]);
      expectError(await a('GET', `/v1/templates/${other}`), 404, 'not_found');
    });
  });
});
