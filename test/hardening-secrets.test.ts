import { channelSettings } from '../activities/channels/settings';
import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';
import { parse as parseYaml } from 'yaml';
import { createSmtpTransport, emailChannelFactory } from '../activities/channels/email';
import { maskWebhookUrl, resealWebhookEndpoints } from '../activities/channels/webhook/endpoint-url';
import { createApp } from '../api/app';
import { loadApiConfig } from '../api/config';
import { ackLink } from '../common/ack-link';
import { deriveKey } from '../common/key-derivation';
import { createWorkerMetrics } from '../common/metrics';
import { decodeSecretKey, openSecret, sealSecret } from '../common/secret-box';
import { createPool } from '../db/pool';
import { startMailSink } from '../scripts/lib/mail-sink';
import { freePort } from '../scripts/lib/ports';
import { TemplateRegistry } from '../templates/registry';
import { loadWorkerConfig } from '../worker/config';
import { ackLinksFrom } from '../worker/create-worker';
import { startMetricsServer } from '../worker/metrics-server';
import { createKey, createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { expectError } from './support/expect-error';
import { ROOT } from './support/env';
import { startStack, uniq, waitForNotification, type ApiResponse, type Stack } from './support/stack';

/** AES-256-GCM as common/secret-box.ts sealed before keys were derived: `v1:` under the raw key. */
function sealTheOldWay(plain: string, rawKey: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rawKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `v1:${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url')}`;
}

/** Opens a sealed value independently of Herald, with the key given; throws when it is the wrong key. */
function openWith(sealed: string, key: Buffer): string {
  const bytes = Buffer.from(sealed.slice(sealed.indexOf(':') + 1), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString();
}

/** A loopback receiver recording each request's path, body and headers. */
async function startReceiver() {
  const received: { path: string; body: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', body: Buffer.concat(chunks).toString(), headers: req.headers });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    requestsTo: (p: string) => received.filter((r) => r.path === p),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const masterKey = decodeSecretKey(TEST_SECRET_KEY);

describe('webhook URLs are credentials (7.3)', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    const loopback = { HERALD_ALLOW_LOOPBACK_URLS: 'true' };
    stack = await startStack({
      channelEnv: { HERALD_SECRET_KEY: TEST_SECRET_KEY, ...loopback },
      apiEnv: loopback,
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const newRecipient = async () => {
    const id = uniq('hooked');
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name: id })).status).toBe(201);
    return id;
  };
  const notify = async (recipient: string) => {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [recipient] },
      channels: ['webhook'],
      data: { ticketId: '9', title: 'Sealed' },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id, 30_000);
    const deliveries = await stack.api('GET', `/v1/deliveries?notification=${created.body.id}`);
    return { id: created.body.id as string, view, deliveries: deliveries.body.items };
  };

  it('masks the URL in every answer, seals a Slack URL at rest, keeps it out of the delivery log, and still sends to it', async () => {
    const recipient = await newRecipient();
    const token = `XoXb${randomBytes(12).toString('hex')}`;
    const secretPath = `/services/T0${randomBytes(4).toString('hex')}/B0${randomBytes(4).toString('hex')}/${token}`;
    const url = `${receiver.base}${secretPath}`;
    const masked = `${receiver.base}/services/****`;

    const created = await stack.api('POST', '/v1/webhook-endpoints', { url, recipient, preset: 'slack' });
    expect(created.status).toBe(201);
    expect(created.body.url).toBe(masked);
    const id = created.body.id as string;
    const answers: ApiResponse[] = [
      created,
      await stack.api('GET', `/v1/webhook-endpoints/${id}`),
      await stack.api('GET', '/v1/webhook-endpoints'),
      await stack.api('POST', `/v1/webhook-endpoints/${id}/enable`),
    ];
    for (const answer of answers) {
      expect(answer.status).toBeLessThan(300);
      expect(JSON.stringify(answer.body)).not.toContain(token);
    }
    expect(answers[1]!.body.url).toBe(masked);

    // At rest: sealed like the signing secrets, under the secret-box key derived from HERALD_SECRET_KEY.
    const stored = await stack.db.query<{ url: string }>('SELECT url FROM webhook_endpoints WHERE id = $1', [
      id,
    ]);
    expect(stored.rows[0]!.url).not.toContain(token);
    expect(openSecret(stored.rows[0]!.url, masterKey)).toBe(url);

    const sent = await notify(recipient);
    expect(sent.view.status).toBe('completed');
    expect(receiver.requestsTo(secretPath)).toHaveLength(1);
    expect(sent.deliveries).toEqual([
      expect.objectContaining({ channel: 'webhook', status: 'sent', address: `webhook:${id}` }),
    ]);
    expect(JSON.stringify(sent.deliveries)).not.toContain(token);
    expect(JSON.stringify(sent.view)).not.toContain(token);
    const logged = await stack.db.query<{ address: string }>(
      'SELECT address FROM deliveries WHERE notification_id = $1',
      [sent.id],
    );
    expect(logged.rows).toEqual([{ address: `webhook:${id}` }]);
  });

  it('masks standard endpoints too, and hides a tenant-wide endpoint’s URL from the delivery log', async () => {
    const secretPath = `/hooks/${randomUUID()}?token=${randomBytes(8).toString('hex')}`;
    const created = await stack.api('POST', '/v1/webhook-endpoints', {
      url: `${receiver.base}${secretPath}`,
    });
    expect(created.status).toBe(201);
    try {
      expect(created.body.url).toBe(`${receiver.base}/hooks/****`);
      const sent = await notify(await newRecipient());
      expect(receiver.requestsTo(secretPath)).toHaveLength(1);
      expect(sent.deliveries).toEqual([
        expect.objectContaining({
          recipientKey: `webhook:${created.body.id}`,
          address: `webhook:${created.body.id}`,
        }),
      ]);
    } finally {
      await stack.api('DELETE', `/v1/webhook-endpoints/${created.body.id}`);
    }
  });

  it('reads endpoints stored before: a plain-text URL and secrets sealed under the raw key still send, and the worker re-seals them', async () => {
    const recipient = await newRecipient();
    const secretPath = `/legacy/${randomUUID()}`;
    const url = `${receiver.base}${secretPath}`;
    const signing = `whsec_${randomBytes(32).toString('base64')}`;
    const id = randomUUID();
    await stack.db.query(
      `INSERT INTO webhook_endpoints (id, tenant_id, external_id, url, preset, secrets)
       VALUES ($1, $2, $3, $4, 'standard', ARRAY[$5])`,
      [id, stack.tenantId, recipient, url, sealTheOldWay(signing, masterKey)],
    );
    const shown = await stack.api('GET', `/v1/webhook-endpoints/${id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      url: `${receiver.base}/legacy/****`,
      secrets: [`whsec_…${signing.slice(-4)}`],
    });

    const before = await notify(recipient);
    expect(before.deliveries).toEqual([
      expect.objectContaining({ status: 'sent', address: `webhook:${id}` }),
    ]);
    const [request] = receiver.requestsTo(secretPath);
    const headers = {
      'webhook-id': String(request!.headers['webhook-id']),
      'webhook-timestamp': String(request!.headers['webhook-timestamp']),
      'webhook-signature': String(request!.headers['webhook-signature']),
    };
    expect(() => new Webhook(signing).verify(request!.body, headers)).not.toThrow();

    // The worker re-seals whatever is stored the old way at start (HERALD_SECRET_KEY in hand).
    expect(await resealWebhookEndpoints(stack.db, masterKey)).toBeGreaterThanOrEqual(1);
    const row = await stack.db.query<{ url: string; secrets: string[] }>(
      'SELECT url, secrets FROM webhook_endpoints WHERE id = $1',
      [id],
    );
    expect(row.rows[0]!.url).not.toContain(secretPath);
    expect(openWith(row.rows[0]!.url, deriveKey(masterKey, 'secret-box'))).toBe(url);
    expect(openWith(row.rows[0]!.secrets[0]!, deriveKey(masterKey, 'secret-box'))).toBe(signing);
    expect(await resealWebhookEndpoints(stack.db, masterKey)).toBe(0);
    expect((await notify(recipient)).deliveries).toEqual([expect.objectContaining({ status: 'sent' })]);
    expect(receiver.requestsTo(secretPath)).toHaveLength(2);
  });

  it('migration 0011 rewrites webhook URLs already in the delivery log', async () => {
    // Rows written before the change: an endpoint with its URL in plain text, and deliveries holding
    // that URL, or the URL of an endpoint deleted since.
    const recipient = await newRecipient();
    const url = `${receiver.base}/logged/${randomUUID()}`;
    const endpointId = randomUUID();
    await stack.db.query(
      `INSERT INTO webhook_endpoints (id, tenant_id, external_id, url, preset, secrets)
       VALUES ($1, $2, $3, $4, 'slack', '{}')`,
      [endpointId, stack.tenantId, recipient, url],
    );
    const { id: notificationId } = await notify(await newRecipient());
    const gone = `https://hooks.example.com/services/T1/B2/${randomBytes(8).toString('hex')}`;
    for (const [key, address] of [
      [recipient, url],
      ['someone-gone', gone],
    ]) {
      await stack.db.query(
        `INSERT INTO deliveries (notification_id, tenant_id, event, recipient_key, external_id, channel, address, status, level)
         VALUES ($1, $2, 'ticket.assigned', $3, $3, 'webhook', $4, 'sent', 0)`,
        [notificationId, stack.tenantId, key, address],
      );
    }
    const file = readFileSync(path.join(ROOT, 'db', 'migrations', '0011_webhook_url_secrets.sql'), 'utf8');
    await stack.db.query(file);
    const rows = await stack.db.query<{ recipient_key: string; address: string }>(
      'SELECT recipient_key, address FROM deliveries WHERE notification_id = $1 ORDER BY recipient_key',
      [notificationId],
    );
    expect(rows.rows).toEqual(
      [
        { recipient_key: recipient, address: `webhook:${endpointId}` },
        { recipient_key: 'someone-gone', address: 'https://hooks.example.com/services/****' },
      ].sort((a, b) => (a.recipient_key < b.recipient_key ? -1 : 1)),
    );
  });

  it('masks: scheme, host and at most one plain word of the path', () => {
    expect(maskWebhookUrl('https://hooks.slack.com/services/T000/B000/XXXX')).toBe(
      'https://hooks.slack.com/services/****',
    );
    expect(maskWebhookUrl('https://example.com/')).toBe('https://example.com/');
    expect(maskWebhookUrl('https://example.com/webhook')).toBe('https://example.com/webhook');
    expect(maskWebhookUrl('https://example.com/webhook?key=abc')).toBe('https://example.com/webhook/****');
    expect(maskWebhookUrl('https://example.com:8443/a1b2c3d4e5')).toBe('https://example.com:8443/****');
    expect(maskWebhookUrl('https://example.com/AbCdEfGhIjKlMnOp')).toBe('https://example.com/****');
    expect(maskWebhookUrl('not a url')).toBe('****');
  });
});

describe('smtp:// needs STARTTLS unless ?tls=off on loopback (7.4)', () => {
  const message = (to: string) => ({ from: 'a@test.local', to, subject: 's', text: 't' });

  it('does not send in plain text to a server that offers no STARTTLS, unless tls=off is given', async () => {
    const sink = await startMailSink();
    const strict = createSmtpTransport({ url: sink.url, maxConnections: 1 });
    const plain = createSmtpTransport({ url: `${sink.url}?tls=off`, maxConnections: 1 });
    try {
      await expect(strict.sendMail(message('strict@example.com'))).rejects.toThrow(/STARTTLS|TLS/i);
      expect(sink.messages()).toHaveLength(0);
      await plain.sendMail(message('plain@example.com'));
      expect(sink.messages().map((m) => m.envelopeTo)).toEqual([['plain@example.com']]);
    } finally {
      strict.close();
      plain.close();
      await sink.close();
    }
  });

  it('upgrades with STARTTLS when the server offers it; tls=unverified accepts a self-signed certificate', async () => {
    const sessions: boolean[] = [];
    const server = new SMTPServer({
      authOptional: true,
      logger: false,
      disableReverseLookup: true,
      onData(stream, session, callback) {
        sessions.push(session.secure);
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    const verified = createSmtpTransport({ url, maxConnections: 1 });
    const unverified = createSmtpTransport({ url: `${url}?tls=unverified`, maxConnections: 1 });
    try {
      // smtp-server's built-in certificate is self-signed (and expired): verified TLS refuses it, and
      // nothing goes out in plain text instead.
      await expect(verified.sendMail(message('x@example.com'))).rejects.toThrow(/certificate/i);
      await unverified.sendMail(message('y@example.com'));
      expect(sessions).toEqual([true]);
    } finally {
      verified.close();
      unverified.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses tls=off for a host that is not loopback, naming SMTP_URL; smtps:// is unaffected', () => {
    for (const url of ['smtp://mail.example.com?tls=off', 'smtp://user:pw@10.0.0.5:25?tls=off']) {
      expect(() => createSmtpTransport({ url })).toThrow(/SMTP_URL/);
      expect(() =>
        emailChannelFactory({ settings: channelSettings({ SMTP_URL: url }), db: undefined as never }),
      ).toThrow(/SMTP_URL/);
      expect(() => loadWorkerConfig({ DATABASE_URL: 'postgres://x', SMTP_URL: url })).toThrow(/SMTP_URL/);
    }
    expect(() => createSmtpTransport({ url: 'smtp://mail.example.com?tls=maybe' })).toThrow(/SMTP_URL/);
    for (const url of [
      'smtp://127.0.0.1:1025?tls=off',
      'smtp://localhost:25?tls=off',
      'smtp://[::1]:25?tls=off',
    ]) {
      const transport = createSmtpTransport({ url });
      expect(transport.options).toMatchObject({ ignoreTLS: true });
      transport.close();
    }
    const strict = createSmtpTransport({ url: 'smtp://mail.example.com:587' });
    expect(strict.options).toMatchObject({ requireTLS: true, secure: false });
    strict.close();
    const smtps = createSmtpTransport({ url: 'smtps://user:pw@mail.example.com' });
    expect(smtps.options).toMatchObject({ secure: true, port: 465 });
    smtps.close();
    expect(
      loadWorkerConfig({ DATABASE_URL: 'postgres://x', SMTP_URL: 'smtps://mail.example.com' }).SMTP_URL,
    ).toBe('smtps://mail.example.com');
  });
});

describe('metrics are not public (7.5)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("the worker's metrics server binds to loopback unless WORKER_METRICS_HOST says otherwise", async () => {
    const server = await startMetricsServer(createWorkerMetrics(), 0);
    try {
      expect((server.server.address() as AddressInfo).address).toBe('127.0.0.1');
    } finally {
      await server.close();
    }
    const base = { DATABASE_URL: 'postgres://x' };
    expect(loadWorkerConfig(base)).toMatchObject({ WORKER_METRICS_HOST: '127.0.0.1' });
    expect(
      loadWorkerConfig({ ...base, WORKER_METRICS_HOST: '0.0.0.0', WORKER_METRICS_PORT: '9464' }),
    ).toMatchObject({
      WORKER_METRICS_HOST: '0.0.0.0',
      WORKER_METRICS_PORT: 9464,
    });
    expect(() => loadWorkerConfig({ ...base, WORKER_METRICS_PORT: 'x' })).toThrow(/WORKER_METRICS_PORT/);
  });

  it("the API's /metrics needs an operator key: 401 without a key, 403 with a tenant key", async () => {
    const anonymous = await stack.api('GET', '/metrics', undefined, { authorization: '' });
    expectError(anonymous, 401, 'unauthorized');
    expectError(await stack.api('GET', '/metrics'), 403, 'forbidden');
    const operator = await createKey(stack.db, null, ['operator']);
    const scraped = await fetch(`${stack.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${operator.key}` },
    });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('herald_http_requests_total');
  });
});

describe('/readyz says ready or not, nothing more (section 2)', () => {
  it('answers not_ready with per-check booleans only, never an address or an error text', async () => {
    const deadPort = await freePort();
    const db = createPool(`postgres://herald:pw@127.0.0.1:${deadPort}/herald`, 1);
    // No retry interceptor: the failed call ends before the connection closes (a retry left pending
    // would fire into the next test file). /readyz's own timeout covers the retrying default.
    const connection = Connection.lazy({ address: `127.0.0.1:${deadPort}`, interceptors: [] });
    const app = createApp({
      db,
      temporal: new Client({ connection }),
      templates: await TemplateRegistry.load(),
      config: loadApiConfig({ DATABASE_URL: 'postgres://unused' }),
    });
    try {
      const response = await app.request('/readyz');
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({
        status: 'not_ready',
        checks: { database: { ok: false }, temporal: { ok: false } },
      });
      expect(text).not.toContain(String(deadPort));
      expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|error/i);
    } finally {
      await connection.close().catch(() => undefined);
      await db.end();
    }
  });

  it('answers ready when both answer', async () => {
    const stack = await startStack({ worker: false });
    try {
      const response = await fetch(`${stack.baseUrl}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: 'ready',
        checks: { database: { ok: true }, temporal: { ok: true } },
      });
    } finally {
      await stack.close();
    }
  });
});

describe('docker-compose.yml keeps everything but the API internal (7.6)', () => {
  const file = path.join(ROOT, 'docker-compose.yml');
  const text = readFileSync(file, 'utf8');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const compose = parseYaml(text, { merge: true }) as { services: Record<string, any> };
  const required = ['POSTGRES_PASSWORD', 'TEMPORAL_DB_PASSWORD', 'HERALD_SECRET_KEY'];

  it('(YAML) publishes only the API, on 127.0.0.1 unless HERALD_API_BIND says otherwise', () => {
    const published = Object.entries(compose.services)
      .filter(([, service]) => service.ports !== undefined)
      .map(([name, service]) => [name, service.ports]);
    expect(published).toEqual([['api', ['${HERALD_API_BIND:-127.0.0.1}:${PORT:-3000}:3000']]]);
    for (const name of ['temporal', 'temporal-ui', 'mailpit']) expect(compose.services[name]).toBeDefined();
    console.log('docker-compose check ran: YAML (ports, required variables)');
  });

  it('(YAML) takes passwords and HERALD_SECRET_KEY from required variables, never defaults', () => {
    for (const name of required) {
      const uses = [...text.matchAll(new RegExp(`\\$\\{${name}([^}]*)\\}`, 'g'))].map((m) => m[1]!);
      expect(uses.length).toBeGreaterThan(0);
      for (const use of uses) expect(use).toMatch(/^:\?/);
    }
    expect(compose.services.postgres.environment.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(compose.services.worker.environment.HERALD_SECRET_KEY).toMatch(/^\$\{HERALD_SECRET_KEY:\?/);
    expect(compose.services.api.environment.HERALD_SECRET_KEY).toMatch(/^\$\{HERALD_SECRET_KEY:\?/);
    // The default mail sink is reached over STARTTLS: tls=off is for loopback only.
    expect(compose.services.worker.environment.SMTP_URL).not.toContain('tls=off');
  });

  const gopath = process.env.GOPATH ?? path.join(os.homedir(), 'go');
  const composeBinary = [process.env.DOCKER_COMPOSE_BIN, path.join(gopath, 'bin', 'cmd')].find(
    (candidate): candidate is string => !!candidate && existsSync(candidate),
  );

  it('(docker compose config, when the binary is built) agrees, and refuses to run without the required variables', async () => {
    if (!composeBinary) {
      console.log(
        `docker-compose check skipped: no compose binary at ${path.join(gopath, 'bin', 'cmd')} ` +
          '(go install github.com/docker/compose/v2/cmd@v2.29.7); the YAML checks above ran',
      );
      return;
    }
    const envFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'compose-')), 'empty.env');
    writeFileSync(envFile, '');
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          composeBinary,
          ['--env-file', envFile, '-f', file, 'config', '--format', 'json'],
          { env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env } },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const full: Record<string, string> = {
      POSTGRES_PASSWORD: 'pw1',
      TEMPORAL_DB_PASSWORD: 'pw2',
      HERALD_SECRET_KEY: TEST_SECRET_KEY,
    };
    const ok = await run(full);
    expect(ok).toMatchObject({ code: 0 });
    const config = JSON.parse(ok.stdout) as {
      services: Record<string, { ports?: { host_ip?: string; published?: string; target: number }[] }>;
    };
    const published = Object.entries(config.services).filter(([, s]) => (s.ports ?? []).length > 0);
    expect(published.map(([name, s]) => [name, s.ports])).toEqual([
      ['api', [expect.objectContaining({ host_ip: '127.0.0.1', published: '3000', target: 3000 })]],
    ]);
    for (const name of required) {
      const { [name]: _left, ...rest } = full;
      const refused = await run(rest);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(name);
    }
    console.log(`docker-compose check ran: ${composeBinary} config`);
  });
});

describe('ack links expire, and every use of HERALD_SECRET_KEY has its own key (7.7)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const ackKey = deriveKey(masterKey, 'ack-link');
  const local = (link: string) => link.replace('https://herald.example.com', stack.baseUrl);

  it('signs links with the derived ack-link key and an expiry inside the signature; an expired one is 410', async () => {
    const id = randomUUID();
    const fresh = ackLink('https://herald.example.com', ackKey, id, 'tech-1', { ttlSeconds: 3600 });
    const exp = Number(new URL(fresh).searchParams.get('exp'));
    expect(exp).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(exp).toBeLessThanOrEqual(Date.now() / 1000 + 3600);
    expect((await fetch(local(fresh))).status).toBe(200);

    // The expiry is signed: moving it later breaks the signature.
    const stretched = new URL(local(fresh));
    stretched.searchParams.set('exp', String(exp + 86_400));
    expect((await fetch(stretched)).status).toBe(403);

    const stale = ackLink('https://herald.example.com', ackKey, id, 'tech-1', {
      ttlSeconds: 60,
      now: Date.now() - 3_600_000,
    });
    const expired = await fetch(local(stale));
    expect(expired.status).toBe(410);
    expect(await expired.text()).toContain('expired');
    const expiredPost = await fetch(local(stale), { method: 'POST' });
    expect(expiredPost.status).toBe(410);
  });

  it('no longer accepts a link signed with the raw HERALD_SECRET_KEY, with or without exp', async () => {
    const id = randomUUID();
    const by = 'tech-2';
    const oldSig = createHmac('sha256', masterKey).update(`ack:${id}:${by}`).digest('base64url').slice(0, 43);
    const old = `${stack.baseUrl}/v1/notifications/${id}/ack-link?by=${by}&sig=${oldSig}`;
    expect((await fetch(old)).status).toBe(403);
    const rawSigned = ackLink(stack.baseUrl, masterKey, id, by, { ttlSeconds: 3600 });
    expect((await fetch(rawSigned)).status).toBe(403);
  });

  it('derives the sealing key and the ack-link key separately; values sealed under the raw key still open', () => {
    const sealing = deriveKey(masterKey, 'secret-box');
    expect(sealing.equals(ackKey)).toBe(false);
    expect(sealing.equals(masterKey)).toBe(false);
    expect(ackKey.equals(masterKey)).toBe(false);

    const sealed = sealSecret('whsec_new', masterKey);
    expect(openWith(sealed, sealing)).toBe('whsec_new');
    expect(() => openWith(sealed, masterKey)).toThrow();
    expect(() => openWith(sealed, ackKey)).toThrow();
    expect(openSecret(sealed, masterKey)).toBe('whsec_new');

    const legacy = sealTheOldWay('whsec_old', masterKey);
    expect(openSecret(legacy, masterKey)).toBe('whsec_old');
    expect(() => openSecret(legacy, randomBytes(32))).toThrow(/HERALD_SECRET_KEY/);
  });

  it('the worker signs with the derived key and ACK_LINK_TTL_SECONDS (default 7 days)', () => {
    const env = { PUBLIC_BASE_URL: 'https://herald.example.com', HERALD_SECRET_KEY: TEST_SECRET_KEY };
    expect(ackLinksFrom(loadWorkerConfig({ DATABASE_URL: 'postgres://x', ...env }))).toEqual({
      baseUrl: 'https://herald.example.com',
      key: ackKey,
      ttlSeconds: 7 * 86_400,
    });
    const tenMinutes = loadWorkerConfig({
      DATABASE_URL: 'postgres://x',
      ...env,
      ACK_LINK_TTL_SECONDS: '600',
    });
    expect(ackLinksFrom(tenMinutes)?.ttlSeconds).toBe(600);
    expect(loadWorkerConfig({ DATABASE_URL: 'postgres://x' }).ACK_LINK_TTL_SECONDS).toBe(7 * 86_400);
    expect(() => loadWorkerConfig({ DATABASE_URL: 'postgres://x', ACK_LINK_TTL_SECONDS: '0' })).toThrow(
      /ACK_LINK_TTL_SECONDS/,
    );
  });
});

describe('webhook endpoints per tenant are capped (6)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      apiEnv: { MAX_WEBHOOK_ENDPOINTS_PER_TENANT: '2', HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('refuses one more than MAX_WEBHOOK_ENDPOINTS_PER_TENANT with 422 naming the limit; other tenants are unaffected', async () => {
    const create = (key: string, n: number) =>
      stack.api(
        'POST',
        '/v1/webhook-endpoints',
        { url: `http://127.0.0.1:9/h/${n}` },
        {
          authorization: `Bearer ${key}`,
        },
      );
    expect((await create(stack.apiKey, 1)).status).toBe(201);
    const second = await create(stack.apiKey, 2);
    expect(second.status).toBe(201);
    const over = await create(stack.apiKey, 3);
    expectError(over, 422, 'limit_reached');
    expect(over.body.error.message).toContain('MAX_WEBHOOK_ENDPOINTS_PER_TENANT');
    expect(over.body.error.message).toContain('2');
    expect((await stack.api('GET', '/v1/webhook-endpoints')).body.items).toHaveLength(2);

    const other = await createTestTenant(stack.db, uniq('other'));
    expect((await create(other.key, 4)).status).toBe(201);

    expect((await stack.api('DELETE', `/v1/webhook-endpoints/${second.body.id}`)).status).toBe(204);
    expect((await create(stack.apiKey, 5)).status).toBe(201);
  });
});
