import net from 'node:net';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { createApp } from '../api/app';
import { MAX_JSON_DEPTH } from '../api/input-guard';
import { TEMPLATES_DIR, TemplateRegistry } from '../templates/registry';
import { expectError } from './support/expect-error';
import {
  startStack,
  uniq,
  waitForNotification,
  withAuth,
  type ApiResponse,
  type Stack,
} from './support/stack';

/**
 * Issue 8 §7, first two bullets: input that reached PostgreSQL or a recursive function and came back
 * as a 500 (or was accepted when it must not be) is a 4xx in our JSON error shape, naming the field.
 */

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** `{"a":{"a":…1…}}`, `levels` objects deep, as text (JSON.stringify would recurse). */
const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const SOME_UUID = '3f2a6c1e-8b7d-4e5f-9a0b-1c2d3e4f5a6b';

describe('hostile input to the API', () => {
  let stack: Stack;
  let registry: TemplateRegistry;
  const recipient = uniq('hardening');
  const email = `${uniq('to')}@example.com`;
  const valid = (data: Record<string, unknown> = {}) => ({
    event: 'ticket.assigned',
    to: { emails: [email] },
    data: { ticketId: '1', title: 'x', ...data },
  });

  /** A request with exactly this body and these headers (fetch adds no Content-Type to bytes). */
  async function send(
    method: string,
    urlPath: string,
    body: string | Uint8Array | undefined,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> {
    const response = await fetch(`${stack.baseUrl}${urlPath}`, {
      method,
      headers: withAuth(stack.apiKey, headers),
      body,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text: the assertion on it says what came back
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  beforeAll(async () => {
    [stack, registry] = await Promise.all([startStack(), TemplateRegistry.load()]);
    expect((await stack.api('PUT', `/v1/recipients/${recipient}`, { name: 'Rudo' })).status).toBe(201);
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('Content-Type and JSON syntax', () => {
    it.each([
      ['POST', '/v1/notifications', 'text/plain'],
      ['PUT', '/v1/recipients/someone', 'application/xml'],
      ['PUT', '/v1/groups/some-group', 'application/x-www-form-urlencoded'],
      ['POST', '/v1/templates/ticket.created/preview', 'text/html; charset=utf-8'],
    ])('%s %s with Content-Type %s → 415 in our error shape', async (method, urlPath, type) => {
      const response = await send(method, urlPath, JSON.stringify(valid()), { 'content-type': type });
      expectError(response, 415, 'unsupported_media_type');
    });

    it.each([
      ['PUT', '/v1/recipients/someone'],
      ['POST', '/v1/notifications'],
    ])('%s %s with a body but no Content-Type → 415', async (method, urlPath) => {
      const response = await send(method, urlPath, new TextEncoder().encode('{"name":"x"}'));
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expectError(response, 415, 'unsupported_media_type');
    });

    it.each(['{"event": "ticket.assigned",', '{not json}', 'null]', '\u0000'])(
      'a JSON Content-Type with the body %j → 400 invalid_json naming body',
      async (text) => {
        const response = await send('POST', '/v1/notifications', text, {
          'content-type': 'application/json',
        });
        expectError(response, 400, 'invalid_json');
        expect(response.body.error.details[0].path).toBe('body');
      },
    );

    it("Hono's own HTTPException keeps its status: an empty JSON body is a 400 invalid_json naming body, not a 500", async () => {
      const response = await send('PUT', `/v1/recipients/${uniq('r')}`, '', {
        'content-type': 'application/json',
      });
      expectError(response, 400, 'invalid_json');
      expect(response.body.error.details).toEqual([{ path: 'body', message: expect.any(String) }]);
    });
  });

  describe('NUL characters', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['a top-level variable', { title: 'a\u0000b' }, 'data.title'],
      ['a string deep in an array', { deep: [{ k: ['ok', 'x\u0000'] }] }, 'data.deep[0].k[1]'],
      ['an object key', { ['a\u0000b']: 'x' }, 'data'],
    ])('in %s of POST /v1/notifications → 400 naming %s', async (_what, data, detailPath) => {
      const response = await stack.api('POST', '/v1/notifications', valid(data));
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([
        { path: detailPath, message: expect.stringMatching(/NUL/) },
      ]);
    });

    it('in a recipient field that would be written to PostgreSQL → 400 naming it', async () => {
      const response = await stack.api('PUT', `/v1/recipients/${uniq('r')}`, { name: 'Ru\u0000do' });
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: 'name', message: expect.any(String) }]);
    });

    it.each([
      ['/v1/recipients?after=a%00b', 'after'],
      ['/v1/notifications?event=ticket%00', 'event'],
      ['/v1/deliveries?recipient=x%00y', 'recipient'],
    ])('in the query of GET %s → 400 naming %s', async (urlPath, name) => {
      const response = await stack.api('GET', urlPath);
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: name, message: expect.stringMatching(/NUL/) }]);
    });

    it.each([
      ['GET', '/v1/recipients/a%00b', 'externalId'],
      ['GET', '/v1/groups/g%00/preferences', 'key'],
      ['GET', '/v1/deadlines/k%00', 'key'],
      ['DELETE', '/v1/groups/some-group/members/x%00', 'externalId'],
    ])('in a path parameter of %s %s → 400 naming %s', async (method, urlPath, name) => {
      const response = await stack.api(method, urlPath);
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: name, message: expect.stringMatching(/NUL/) }]);
    });

    it('checks after authentication: an anonymous caller still gets 401', async () => {
      const response = await stack.api('GET', '/v1/recipients/a%00b', undefined, { authorization: '' });
      expectError(response, 401, 'unauthorized');
    });
  });

  describe('nesting depth', () => {
    it('data nested 10,000 deep in POST /v1/notifications → 400 naming body (no stack overflow)', async () => {
      const text = JSON.stringify(valid()).replace(/}}$/, `,"deep":${nested(10_000)}}}`);
      const response = await send('POST', '/v1/notifications', text, { 'content-type': 'application/json' });
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([
        { path: 'body', message: expect.stringContaining(String(MAX_JSON_DEPTH)) },
      ]);
    });

    it(`a body ${MAX_JSON_DEPTH} levels deep is accepted, one more is refused`, async () => {
      // The preview body is {data: {…sample, extra: …}}: two levels before `extra`.
      const body = (levels: number) =>
        JSON.stringify({ data: registry.manifest('ticket.created')!.sample }).replace(
          /}}$/,
          `,"extra":${nested(levels)}}}`,
        );
      const preview = (levels: number) =>
        send('POST', '/v1/templates/ticket.created/preview', body(levels), {
          'content-type': 'application/json',
        });
      expect((await preview(MAX_JSON_DEPTH - 2)).status).toBe(200);
      expectError(await preview(MAX_JSON_DEPTH - 1), 400, 'validation_failed');
    });

    it('brackets inside strings do not count', async () => {
      const response = await stack.api('POST', '/v1/templates/ticket.created/preview', {
        data: { ...registry.manifest('ticket.created')!.sample, title: '[{'.repeat(500) + '\\"' },
      });
      expect(response.status).toBe(200);
    });
  });

  describe('what the HTTP parser refuses before the app', () => {
    /**
     * One raw HTTP/1.1 exchange: writes `head`, then `rest` after `pauseMs` (a client whose request
     * arrives in pieces), and reads until the server closes. A reset instead of a close is an error.
     */
    async function exchange(
      head: string,
      rest = '',
      pauseMs = 0,
    ): Promise<{ response: ApiResponse; raw: string }> {
      const { port } = new URL(stack.baseUrl);
      const socket = net.connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const closed = new Promise<void>((resolve, reject) => {
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
      await new Promise<void>((resolve) => socket.on('connect', resolve));
      socket.write(head);
      if (rest) {
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        if (socket.writable) socket.write(rest);
      }
      await closed;
      const raw = Buffer.concat(chunks).toString('latin1');
      const [statusLine, ...lines] = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
      const headers = new Headers(lines.map((line) => line.split(/:\s*/, 2) as [string, string]));
      const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text: the assertion on it says what came back
      }
      return { response: { status: Number((statusLine ?? '').split(' ')[1]), body, headers }, raw };
    }

    const overLong = (pathAndQuery: string, body = '') =>
      `DELETE ${pathAndQuery} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${stack.apiKey}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;

    it('a 24 KB query string → 431 headers_too_large in our error shape, with a length, then a clean close', async () => {
      const endpoint = `https://push.example.com/${'e'.repeat(24_000)}`;
      const body = JSON.stringify({ endpoint: 'x'.repeat(2_000) });
      // The body arrives after the server has answered: it must still close, not reset.
      const { response, raw } = await exchange(
        overLong(`/v1/recipients/${recipient}/push-subscriptions?endpoint=${endpoint}`, body),
        body,
        100,
      );
      expectError(response, 431, 'headers_too_large');
      expect(response.body.error.details[0].path).toBe('headers');
      expect(response.headers.get('connection')).toBe('close');
      expect(Number(response.headers.get('content-length'))).toBe(
        Buffer.byteLength(raw.slice(raw.indexOf('\r\n\r\n') + 4)),
      );
    });

    it('a request that is not HTTP → 400 malformed_request; the server goes on answering', async () => {
      const { response } = await exchange('HELLO THERE\r\n\r\n');
      expectError(response, 400, 'malformed_request');
      expect((await stack.api('GET', `/v1/recipients/${recipient}`)).status).toBe(200);
    });
  });

  describe('pagination cursors', () => {
    it.each([
      ['/v1/deliveries', { id: 'abc' }],
      ['/v1/deliveries', { id: '99999999999999999999999' }],
      ['/v1/deliveries', { id: -1 }],
      ['/v1/notifications', { t: 'x', id: 'y' }],
      ['/v1/notifications', { t: '2025-01-01T00:00:00.000Z', id: 'y' }],
      ['/v1/notifications', { t: '1', id: SOME_UUID }],
      ['/v1/notifications', { t: '2025-02-30T00:00:00.000Z', id: SOME_UUID }],
      [`/v1/recipients/${recipient}/inbox`, { t: 'x', id: 'y' }],
      [`/v1/recipients/${recipient}/inbox`, { t: '1', id: SOME_UUID }],
      [`/v1/recipients/${recipient}/inbox`, { t: '2025-01-01 junk', id: SOME_UUID }],
    ])('GET %s with a decodable cursor %j → 400 naming cursor', async (urlPath, cursor) => {
      const response = await stack.api('GET', `${urlPath}?cursor=${b64(cursor)}`);
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: 'cursor', message: expect.any(String) }]);
    });

    it.each([
      ['/v1/notifications', 'since', '+275760-09-13T00:00:00.000Z'],
      ['/v1/notifications', 'until', '-271821-04-20T00:00:00.000Z'],
      ['/v1/deliveries', 'since', '+020000-01-01T00:00:00.000Z'],
    ])('GET %s with %s=%s (a date PostgreSQL cannot hold) → 400 naming it', async (urlPath, field, value) => {
      const response = await stack.api('GET', `${urlPath}?${field}=${encodeURIComponent(value)}`);
      expectError(response, 400, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: field, message: expect.any(String) }]);
    });

    it("the API's own cursors still page through notifications, deliveries and an inbox", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const created = await stack.api('POST', '/v1/notifications', {
          event: 'ticket.assigned',
          to: { recipients: [recipient] },
          channels: ['inapp'],
          data: { ticketId: String(i), title: `page ${i}` },
        });
        expect(created.status).toBe(202);
        ids.push(created.body.id);
      }
      for (const id of ids) await waitForNotification(stack, id);

      const walk = async (first: string, key: (item: { id: string }) => string) => {
        const seen: string[] = [];
        let url: string | null = first;
        while (url) {
          const page: ApiResponse = await stack.api('GET', url);
          expect(page.status).toBe(200);
          seen.push(...page.body.items.map(key));
          url = page.body.nextCursor ? `${first}&cursor=${page.body.nextCursor}` : null;
        }
        return seen;
      };
      expect(
        await walk('/v1/notifications?limit=1&event=ticket.assigned&recipient=' + recipient, (n) => n.id),
      ).toEqual([...ids].reverse());
      expect(await walk(`/v1/deliveries?limit=1&recipient=${recipient}`, (d) => d.id)).toHaveLength(2);
      expect(await walk(`/v1/recipients/${recipient}/inbox?limit=1`, (m) => m.id)).toHaveLength(2);
    });
  });

  describe('URL-valued template variables', () => {
    const hostile = [
      'javascript:alert(document.cookie)',
      'JaVaScRiPt:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'vbscript:msgbox(1)',
      '/relative/path',
      '//evil.example/x',
      'not a url',
      'http://example.com/ticket/1',
      'http://127.0.0.1:8080/ticket/1',
      'https://helpdesk.example.com@evil.example/',
      'https://ok.example/\nSet-Cookie: x',
    ];

    it.each(hostile)('POST /v1/notifications with data.url %j → 422 naming data.url', async (url) => {
      const response = await stack.api('POST', '/v1/notifications', valid({ url }));
      expectError(response, 422, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: 'data.url', message: expect.any(String) }]);
    });

    it('an https link is accepted', async () => {
      const response = await stack.api(
        'POST',
        '/v1/notifications',
        valid({ url: 'https://helpdesk.example.com/t/1' }),
      );
      expect(response.status).toBe(202);
    });

    it.each(['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>'])(
      'template preview with data.url %j → 422 naming data.url',
      async (url) => {
        const response = await stack.api('POST', '/v1/templates/ticket.created/preview', {
          data: { ...registry.manifest('ticket.created')!.sample, url },
        });
        expectError(response, 422, 'validation_failed');
        expect(response.body.error.details).toEqual([{ path: 'data.url', message: expect.any(String) }]);
      },
    );

    it('PUT /v1/deadlines/{key} with a javascript: url → 422 naming data.url', async () => {
      const response = await stack.api('PUT', `/v1/deadlines/${uniq('d')}`, {
        dueAt: new Date(Date.now() + 3_600_000).toISOString(),
        to: { recipients: [recipient] },
        data: { ticketId: '1', title: 'x', url: 'javascript:alert(1)' },
      });
      expectError(response, 422, 'validation_failed');
      expect(response.body.error.details).toEqual([{ path: 'data.url', message: expect.any(String) }]);
    });

    it('with HERALD_ALLOW_LOOPBACK_URLS=true http links to loopback pass, other http links do not', async () => {
      const app = createApp({
        db: stack.db,
        temporal: stack.client,
        templates: registry,
        config: { ...stack.config, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
      });
      const preview = (url: string) =>
        app.request('/v1/templates/ticket.created/preview', {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ data: { ...registry.manifest('ticket.created')!.sample, url } }),
        });
      for (const url of ['http://127.0.0.1:8080/t/1', 'http://localhost:3000/t/1', 'http://[::1]/t']) {
        expect([url, (await preview(url)).status]).toEqual([url, 200]);
      }
      for (const url of ['http://example.com/t/1', 'http://10.0.0.1/t', 'javascript:alert(1)']) {
        expect([url, (await preview(url)).status]).toEqual([url, 422]);
      }
    });

    it('every variable named like a link, and every variable rendered into an href or a card url, is format: url', () => {
      const unmarked: string[] = [];
      for (const event of registry.events()) {
        const variables = registry.manifest(event)!.variables;
        const folder = path.join(TEMPLATES_DIR, event);
        const read = (file: string) =>
          existsSync(path.join(folder, file)) ? readFileSync(path.join(folder, file), 'utf8') : '';
        const linked = new Set<string>();
        for (const m of read('email.mjml').matchAll(/href="\{\{\s*(\w+)/g)) linked.add(m[1]!);
        for (const file of ['push.yaml', 'inapp.yaml']) {
          const card = YAML.parse(read(file) || '{}') as { url?: string };
          for (const m of (card.url ?? '').matchAll(/\{\{\s*(\w+)/g)) linked.add(m[1]!);
        }
        for (const name of Object.keys(variables)) if (/url|link|href/i.test(name)) linked.add(name);
        for (const name of linked) {
          // ackUrl and unsubscribeUrl are Herald's own links, not data.
          if (name === 'ackUrl' || name === 'unsubscribeUrl') continue;
          if ((variables[name] as { format?: string } | undefined)?.format !== 'url')
            unmarked.push(`${event}.${name}`);
        }
      }
      expect(unmarked).toEqual([]);
      expect(registry.manifest('ticket.created')!.variables.url).toMatchObject({
        type: 'string',
        format: 'url',
      });
    });

    it('a manifest with a link-named variable that is not format: url does not load', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'herald-templates-'));
      try {
        cpSync(path.join(TEMPLATES_DIR, '_layout'), path.join(dir, '_layout'), { recursive: true });
        cpSync(path.join(TEMPLATES_DIR, 'ticket.created'), path.join(dir, 'ticket.created'), {
          recursive: true,
        });
        const file = path.join(dir, 'ticket.created', 'manifest.yaml');
        const manifest = YAML.parse(readFileSync(file, 'utf8'));
        delete manifest.variables.url.format;
        writeFileSync(file, YAML.stringify(manifest));
        await expect(TemplateRegistry.load(dir)).rejects.toThrow(/ticket\.created.*url.*format: url/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
