import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {
  TEMPLATES_DIR,
  TemplateRegistry,
  TemplateRenderError,
  type RenderContext,
  type TemplateManifest,
} from '../templates/registry';
import { startStack, uniq, type Stack } from './support/stack';
import { expectError } from './support/expect-error';

/** The escaping LiquidJS's `escape` filter applies (the registry's default output escape for HTML). */
const escapeHtml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&#34;')
    .replace(/'/g, '&#39;');

/**
 * The catalogue as folders on disk, read synchronously so it.each can name one test per template;
 * the first test checks that TemplateRegistry.load() finds exactly these events.
 */
const catalogue: { event: string; manifest: TemplateManifest }[] = readdirSync(TEMPLATES_DIR, {
  withFileTypes: true,
})
  .filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.'))
  .filter((e) => existsSync(path.join(TEMPLATES_DIR, e.name, 'manifest.yaml')))
  .map((e) => ({
    event: e.name,
    manifest: YAML.parse(readFileSync(path.join(TEMPLATES_DIR, e.name, 'manifest.yaml'), 'utf8')),
  }))
  .sort((a, b) => a.event.localeCompare(b.event));
const EVENTS = catalogue.map((c) => c.event);
/** MJML runs once per event and once per locale folder (templates/<event>/fr/…). */
const EMAIL_LAYERS = catalogue.reduce(
  (n, { event }) =>
    n +
    1 +
    readdirSync(path.join(TEMPLATES_DIR, event), { withFileTypes: true }).filter((e) => e.isDirectory())
      .length,
  0,
);
const REQUIRED_VARIABLES = catalogue.flatMap(({ event, manifest }) =>
  Object.entries(manifest.variables)
    .filter(([, spec]) => spec.required)
    .map(([variable]) => ({ event, variable })),
);
const MUST_EXIST = [
  'ticket.created',
  'ticket.assigned',
  'ticket.overdue',
  'job.failed',
  'job.succeeded',
  'low_stock',
  'test_email',
];

const context = (
  event: string,
  data: Record<string, unknown>,
  recipient: Partial<RenderContext['recipient']> = {},
): RenderContext => ({
  data,
  recipient: { name: 'Rudo Test', email: 'rudo@example.com', externalId: 'rudo-1', ...recipient },
  brand: { name: 'Herald Test' },
  notification: { id: '11111111-2222-4333-8444-555555555555', event, priority: 'normal' },
});

const stringEntries = (data: Record<string, unknown>) =>
  Object.entries(data).filter((entry): entry is [string, string] => typeof entry[1] === 'string');

const without = (data: Record<string, unknown>, name: string) =>
  Object.fromEntries(Object.entries(data).filter(([k]) => k !== name));

describe('the template catalogue', () => {
  let registry: TemplateRegistry;
  beforeAll(async () => {
    registry = await TemplateRegistry.load();
  });

  it('loads every template folder, including the ones integrations rely on', () => {
    expect(registry.events()).toEqual(EVENTS);
    expect(registry.events()).toEqual(expect.arrayContaining(MUST_EXIST));
    expect(REQUIRED_VARIABLES.length).toBeGreaterThan(0);
  });

  it.each(EVENTS)('%s renders its sample: one-line subject, escaped HTML, verbatim text', (event) => {
    const { sample } = registry.manifest(event)!;
    expect(registry.checkData(event, sample)).toEqual([]);
    const email = registry.renderEmail(event, context(event, sample));
    expect(email.subject.trim()).not.toBe('');
    expect(email.subject).not.toMatch(/[\r\n]/);
    const strings = stringEntries(sample);
    expect(strings.length).toBeGreaterThan(0);
    for (const [, value] of strings) {
      expect(email.html).toContain(escapeHtml(value));
      expect(email.text).toContain(value);
    }
  });

  it.each(EVENTS)('%s escapes markup in every string variable of its HTML part', (event) => {
    const hostile = (name: string) => `${name} <i>x</i> & "q" 'a'`;
    const data = Object.fromEntries(
      Object.entries(registry.manifest(event)!.sample).map(([k, v]) => [
        k,
        typeof v === 'string' ? hostile(k) : v,
      ]),
    );
    const email = registry.renderEmail(event, context(event, data));
    expect(email.html).not.toContain('<i>x</i>');
    for (const [name] of stringEntries(data)) {
      expect(email.html).toContain(escapeHtml(hostile(name)));
      expect(email.text).toContain(hostile(name));
    }
  });

  it.each(REQUIRED_VARIABLES)(
    '$event without required $variable: checkData reports it and rendering fails naming it',
    ({ event, variable }) => {
      const manifest = registry.manifest(event)!;
      expect(manifest.variables[variable]?.required).toBe(true);
      const data = without(manifest.sample, variable);
      expect(registry.checkData(event, data)).toEqual([
        { variable, message: expect.stringMatching(/required variable is missing/) },
      ]);
      let thrown: unknown;
      try {
        registry.renderEmail(event, context(event, data));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TemplateRenderError);
      expect((thrown as TemplateRenderError).event).toBe(event);
      expect((thrown as Error).message).toContain(variable);
    },
  );

  it('escapes a script in the HTML part and keeps a header injection out of the subject', () => {
    const sample = registry.manifest('ticket.assigned')!.sample;
    const script = registry.renderEmail(
      'ticket.assigned',
      context('ticket.assigned', { ...sample, title: '<script>alert(1)</script>' }),
    );
    expect(script.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(script.html).not.toContain('<script>alert');

    const injected = registry.renderEmail(
      'ticket.assigned',
      context('ticket.assigned', { ...sample, title: 'Printer\r\nBcc: evil@x' }),
    );
    expect(injected.subject).not.toMatch(/[\r\n]/);
    expect(injected.subject).toBe('[#123] Assigned to you: Printer Bcc: evil@x');
  });
});

describe('MJML compilation', () => {
  afterEach(() => {
    jest.dontMock('mjml');
  });

  it('happens once per template at load, never per render', async () => {
    const realMjml = jest.requireActual<typeof import('mjml')>('mjml');
    const mjml = jest.fn(realMjml);
    let isolated: typeof TemplateRegistry | undefined;
    await jest.isolateModulesAsync(async () => {
      jest.doMock('mjml', () => mjml);
      isolated = (await import('../templates/registry')).TemplateRegistry;
    });
    const registry = await isolated!.load();
    expect(registry.events().length).toBeGreaterThan(0);
    expect(mjml).toHaveBeenCalledTimes(EMAIL_LAYERS);

    const sample = registry.manifest('ticket.assigned')!.sample;
    for (let i = 0; i < 200; i++) {
      const name = `Recipient ${i}`;
      const email = registry.renderEmail(
        'ticket.assigned',
        context('ticket.assigned', sample, { name, email: `r${i}@example.com`, externalId: `r-${i}` }),
      );
      expect(email.html).toContain(`Hi ${name},`);
      expect(email.text).toContain(`Hi ${name},`);
    }
    expect(mjml).toHaveBeenCalledTimes(EMAIL_LAYERS);
  });
});

describe('the templates API', () => {
  let stack: Stack;
  let registry: TemplateRegistry;
  beforeAll(async () => {
    [stack, registry] = await Promise.all([startStack(), TemplateRegistry.load()]);
  });
  afterAll(async () => {
    await stack.close();
  });

  const rowCounts = async () =>
    (
      await stack.db.query(
        'SELECT (SELECT count(*) FROM notifications)::int AS n, (SELECT count(*) FROM deliveries)::int AS d',
      )
    ).rows[0];

  it('GET /v1/templates lists the catalogue with its manifests', async () => {
    const response = await stack.api('GET', '/v1/templates');
    expect(response.status).toBe(200);
    expect(response.body.items.map((m: TemplateManifest) => m.event)).toEqual(EVENTS);
    expect(response.body.items).toEqual(EVENTS.map((e) => ({ ...registry.manifest(e), builtIn: true })));
  });

  it('GET /v1/templates/{event} returns one manifest, or a 404 JSON error', async () => {
    const found = await stack.api('GET', '/v1/templates/ticket.assigned');
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ ...registry.manifest('ticket.assigned'), builtIn: true });
    expect(found.body.variables.title).toEqual(expect.objectContaining({ type: 'string', required: true }));

    expectError(await stack.api('GET', '/v1/templates/nope'), 404, 'not_found');
  });

  describe('POST /v1/templates/{event}/preview', () => {
    const preview = (body: unknown, event = 'ticket.assigned') =>
      stack.api('POST', `/v1/templates/${event}/preview`, body);

    it('renders the given data', async () => {
      const title = `Projector <dead> ${uniq('t')}`;
      const response = await preview({ data: { ticketId: '987', title }, recipient: { name: 'Chipo' } });
      expect(response.status).toBe(200);
      expect(response.body.event).toBe('ticket.assigned');
      const { email } = response.body;
      expect(email.subject).toBe(`[#987] Assigned to you: ${title}`);
      expect(email.html).toContain(escapeHtml(title));
      expect(email.html).not.toContain('<dead>');
      expect(email.html).toContain('Hi Chipo,');
      expect(email.text).toContain(`Ticket #987 ${title}`);
    });

    it('renders the sample when no data is given', async () => {
      const sample = registry.manifest('ticket.assigned')!.sample;
      const response = await preview({});
      expect(response.status).toBe(200);
      expect(response.body.email.subject).toBe(`[#${sample.ticketId}] Assigned to you: ${sample.title}`);
      for (const [, value] of stringEntries(sample)) {
        expect(response.body.email.html).toContain(escapeHtml(value));
        expect(response.body.email.text).toContain(value);
      }
    });

    it('rejects a missing required variable with 422 naming data.title', async () => {
      const response = await preview({ data: { ticketId: '1' } });
      expectError(response, 422, 'validation_failed');
      expect(response.body.error.details).toEqual([
        { path: 'data.title', message: expect.stringMatching(/required variable is missing/) },
      ]);
    });

    it('rejects an unknown body field with 400', async () => {
      const response = await preview({ data: { ticketId: '1', title: 'x' }, sendTo: 'ops@example.com' });
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([
        expect.objectContaining({ path: 'body', message: expect.stringContaining('sendTo') }),
      ]);
    });

    it('answers 404 for an unknown template', async () => {
      expectError(await preview({ data: {} }, 'nope'), 404, 'not_found');
    });

    it('sends no mail and writes no notification', async () => {
      const before = await rowCounts();
      const responses = await Promise.all([
        preview({ data: { ticketId: '5', title: uniq('quiet') } }),
        preview({}),
        preview({}, 'job.failed'),
        preview({ data: {} }),
      ]);
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 422]);
      expect(stack.sink.messages()).toEqual([]);
      expect(await rowCounts()).toEqual(before);
    });
  });
});
