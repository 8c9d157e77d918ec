import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { TenantTransports } from '../activities/channels/email/tenant-transports';
import { decodeSecretKey, sealSecret } from '../common/secret-box';
import { deleteTenantSetting, putTenantSetting } from '../db/queries/tenant-settings';
import { startMailSink, type MailSink } from '../scripts/lib/mail-sink';
import { tenantSmtpChecks } from '../scripts/lib/doctor-smtp';
import { createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { startStack, uniq, type Stack } from './support/stack';

const LOOPBACK = { HERALD_ALLOW_LOOPBACK_URLS: 'true' };
const A_PASS = 'tenant-A-secret-pw-7781';
const A2_PASS = 'tenant-A2-other-pw-5530';
const B_PASS = 'tenant-B-secret-pw-4412';
const D_PASS = 'tenant-D-wrong-pw-0066';
const PASSWORDS = [A_PASS, A2_PASS, B_PASS, D_PASS];

/** A server that refuses every login the way a real provider does: `535 5.7.8 authentication failed`. */
async function startRejectingServer(): Promise<{ smtpPort: number; close(): Promise<void> }> {
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    disableReverseLookup: true,
    onAuth(_auth, _session, callback) {
      const error = Object.assign(new Error('5.7.8 authentication failed'), { responseCode: 535 });
      callback(error);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    smtpPort: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const settingsFor = (sink: { smtpPort: number }, user: string, password: string, from: string) => ({
  host: '127.0.0.1',
  port: sink.smtpPort,
  security: 'none',
  username: user,
  password,
  from,
});

describe('per-tenant SMTP', () => {
  let stack: Stack;
  let serverA: MailSink;
  let serverA2: MailSink;
  let serverB: MailSink;
  let rejecting: { smtpPort: number; close(): Promise<void> };
  const tenantB = uniq('tenant-b');
  const tenantC = uniq('tenant-c');
  const tenantD = uniq('tenant-d');
  let keyB: string;
  let keyC: string;
  let keyD: string;
  const output: string[] = [];
  const spies: jest.SpyInstance[] = [];

  beforeAll(async () => {
    // Whatever the API or the worker writes, the test reads it for passwords at the end.
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const)
      spies.push(
        jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
          output.push(args.map(String).join(' '));
        }),
      );
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      spies.push(
        jest.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: never[]) => {
          output.push(String(chunk));
          return write(chunk as string, ...rest);
        }) as never),
      );
    }
    [serverA, serverA2, serverB, rejecting] = await Promise.all([
      startMailSink({ auth: { user: 'a-user', pass: A_PASS } }),
      startMailSink({ auth: { user: 'a2-user', pass: A2_PASS } }),
      startMailSink({ auth: { user: 'b-user', pass: B_PASS } }),
      startRejectingServer(),
    ]);
    stack = await startStack({ apiEnv: LOOPBACK, channelEnv: LOOPBACK });
    ({ key: keyB } = await createTestTenant(stack.db, tenantB));
    ({ key: keyC } = await createTestTenant(stack.db, tenantC));
    ({ key: keyD } = await createTestTenant(stack.db, tenantD));
  });

  afterAll(async () => {
    // Settings pointing at servers that are about to close would make a later doctor run fail.
    if (stack)
      for (const tenant of [stack.tenantId, tenantB, tenantC, tenantD])
        await deleteTenantSetting(stack.db, tenant, 'smtp');
    await stack?.close();
    await Promise.all([serverA?.close(), serverA2?.close(), serverB?.close(), rejecting?.close()]);
    for (const spy of spies) spy.mockRestore();
  });

  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  async function notify(key: string | null, email: string): Promise<string> {
    const created = await stack.api(
      'POST',
      '/v1/notifications',
      { event: 'test_email', to: { emails: [email] }, data: { message: 'hello' } },
      key ? as(key) : {},
    );
    expect(created.status).toBe(202);
    return created.body.id;
  }

  /** Polls the notification as its own tenant until it has finished. */
  async function finished(key: string | null, id: string, on: Stack = stack) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { body } = await on.api('GET', `/v1/notifications/${id}`, undefined, key ? as(key) : {});
      if (['completed', 'failed', 'cancelled'].includes(body?.status)) return body;
      if (Date.now() > deadline) throw new Error(`notification ${id} still ${body?.status}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  const to = (sink: MailSink, email: string) => sink.messages().filter((m) => m.envelopeTo.includes(email));

  /** Each test sets the settings it relies on, so none depends on another having run. */
  async function put(key: string | null, body: Record<string, unknown>): Promise<void> {
    const response = await stack.api('PUT', '/v1/settings/smtp', body, key ? as(key) : {});
    expect(response.status).toBe(200);
  }
  const putA2 = () => put(null, settingsFor(serverA2, 'a2-user', A2_PASS, 'A Renamed <news@a2.example>'));
  const putB = () => put(keyB, settingsFor(serverB, 'b-user', B_PASS, 'ops@b.example'));
  const putD = () => put(keyD, settingsFor(rejecting, 'd-user', D_PASS, 'Tenant D <d@d.example>'));

  async function rawGet(key: string | null): Promise<{ status: number; text: string }> {
    const response = await fetch(`${stack.baseUrl}/v1/settings/smtp`, {
      headers: { authorization: `Bearer ${key ?? stack.apiKey}` },
    });
    return { status: response.status, text: await response.text() };
  }

  it("sends each tenant's email only through its own server, as its own sender; a tenant with none uses SMTP_URL", async () => {
    const putA = await stack.api('PUT', '/v1/settings/smtp', {
      ...settingsFor(serverA, 'a-user', A_PASS, 'Tenant A <alerts@a.example>'),
      replyTo: 'help@a.example',
    });
    expect(putA.status).toBe(200);
    expect(putA.body).toMatchObject({ host: '127.0.0.1', security: 'none', passwordSet: true });
    const storedB = await stack.api(
      'PUT',
      '/v1/settings/smtp',
      settingsFor(serverB, 'b-user', B_PASS, '"Tenant B, Ltd" <ops@b.example>'),
      as(keyB),
    );
    expect(storedB.status).toBe(200);
    // Each tenant's brand travels with its mail.
    const brandA = await stack.api('PUT', '/v1/settings/brand', { name: 'Acme Alerts', color: '#0b7a75' });
    expect(brandA.status).toBe(200);
    const brandB = await stack.api(
      'PUT',
      '/v1/settings/brand',
      { name: 'Beta Ops', color: '#7a0b36' },
      as(keyB),
    );
    expect(brandB.status).toBe(200);

    const [emailA, emailB, emailC] = ['a', 'b', 'c'].map((t) => `${uniq(t)}@example.com`) as [
      string,
      string,
      string,
    ];
    const ids = await Promise.all([notify(null, emailA), notify(keyB, emailB), notify(keyC, emailC)]);
    const views = await Promise.all([
      finished(null, ids[0]!),
      finished(keyB, ids[1]!),
      finished(keyC, ids[2]!),
    ]);
    for (const view of views) expect(view.recipients[0].deliveries[0]).toMatchObject({ status: 'sent' });

    const [mailA] = to(serverA, emailA);
    expect(mailA?.from).toMatch(/Tenant A.*<alerts@a\.example>/);
    expect(mailA?.headers['reply-to']).toContain('help@a.example');
    expect(mailA?.envelopeFrom).toBe('alerts@a.example');
    expect(mailA?.html).toContain('Acme Alerts');
    expect(mailA?.html).toContain('#0b7a75');
    expect(mailA?.html).not.toContain('Beta Ops');
    const [mailB] = to(serverB, emailB);
    expect(mailB?.from).toMatch(/Tenant B, Ltd.*<ops@b\.example>/);
    expect(mailB?.headers['reply-to']).toBeUndefined();
    expect(mailB?.html).toContain('Beta Ops');
    expect(mailB?.html).not.toContain('Acme Alerts');
    const [mailC] = to(stack.sink, emailC);
    expect(mailC?.from).toContain('herald@test.local');
    // Each mail at exactly one server: its tenant's.
    for (const [email, home] of [
      [emailA, serverA],
      [emailB, serverB],
      [emailC, stack.sink],
    ] as const)
      for (const sink of [serverA, serverA2, serverB, stack.sink])
        expect(to(sink, email)).toHaveLength(sink === home ? 1 : 0);
    // The Message-ID is still Herald's deterministic one.
    expect(mailA?.messageId).toMatch(new RegExp(`^<${ids[0]}\\.[0-9a-f]{16}\\.email@herald\\.local>$`));
  });

  it("a change of A's settings while the worker runs is used from A's next notification", async () => {
    await put(null, settingsFor(serverA, 'a-user', A_PASS, 'Tenant A <alerts@a.example>'));
    const before = `${uniq('before')}@example.com`;
    await finished(null, await notify(null, before));
    expect(to(serverA, before)).toHaveLength(1);

    await putA2();
    const after = `${uniq('after')}@example.com`;
    const view = await finished(null, await notify(null, after));
    expect(view.recipients[0].deliveries[0]).toMatchObject({ status: 'sent' });
    expect(to(serverA2, after)).toHaveLength(1);
    expect(to(serverA2, after)[0]!.from).toMatch(/A Renamed.*<news@a2\.example>/);
    expect(to(serverA, after)).toHaveLength(0);
    expect(to(stack.sink, after)).toHaveLength(0);
  });

  it('GET never shows the password; the database row holds none of it in plain text', async () => {
    await Promise.all([putA2(), putB()]);
    const { status, text } = await rawGet(null);
    expect(status).toBe(200);
    for (const password of PASSWORDS) expect(text).not.toContain(password);
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      host: '127.0.0.1',
      port: serverA2.smtpPort,
      security: 'none',
      username: 'a2-user',
      from: 'A Renamed <news@a2.example>',
      replyTo: null,
      passwordSet: true,
      passwordHint: `…${A2_PASS.slice(-4)}`,
    });
    expect(body.version).toBeGreaterThan(0);

    const rows = await stack.db.query<{ row: string; secret: string }>(
      `SELECT row_to_json(s)::text AS row, secret FROM tenant_settings s WHERE tenant_id = ANY($1) AND kind = 'smtp'`,
      [[stack.tenantId, tenantB]],
    );
    expect(rows.rows).toHaveLength(2);
    for (const { row, secret } of rows.rows) {
      expect(secret).toMatch(/^v2:/);
      for (const password of PASSWORDS) expect(row).not.toContain(password);
    }

    // A PUT that leaves the password out keeps it (the next notification still logs in).
    const kept = await stack.api('PUT', '/v1/settings/smtp', {
      host: '127.0.0.1',
      port: serverA2.smtpPort,
      security: 'none',
      username: 'a2-user',
      from: 'A Renamed <news@a2.example>',
    });
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ passwordSet: true, passwordHint: `…${A2_PASS.slice(-4)}` });
    const email = `${uniq('kept')}@example.com`;
    await finished(null, await notify(null, email));
    expect(to(serverA2, email)).toHaveLength(1);

    // A short password shows no hint at all.
    const short = await stack.api(
      'PUT',
      '/v1/settings/smtp',
      settingsFor(serverB, 'b-user', 'short-pw', 'ops@b.example'),
      as(keyB),
    );
    expect(short.body).toMatchObject({ passwordSet: true, passwordHint: null });
    await stack.api(
      'PUT',
      '/v1/settings/smtp',
      settingsFor(serverB, 'b-user', B_PASS, 'ops@b.example'),
      as(keyB),
    );
  });

  it("POST /test answers 422 with the server's 535 for a refused login, 200 with the id the server received", async () => {
    await Promise.all([putA2(), putD()]);
    const refused = await stack.api('POST', '/v1/settings/smtp/test', { to: 'me@d.example' }, as(keyD));
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('smtp_test_failed');
    expect(refused.body.error.message).toContain('535 5.7.8 authentication failed');
    expect(refused.body.error.details).toEqual([{ path: 'smtp', message: expect.stringContaining('535') }]);
    expect(JSON.stringify(refused.body)).not.toContain(D_PASS);

    const accepted = await stack.api('POST', '/v1/settings/smtp/test', { to: 'me@a.example' });
    expect(accepted.status).toBe(200);
    expect(accepted.body.response).toMatch(/^250/);
    const [received] = await serverA2.waitFor((all) =>
      all.some((m) => m.messageId === accepted.body.messageId),
    );
    expect(received).toBeDefined();
    const mail = serverA2.messages().find((m) => m.messageId === accepted.body.messageId)!;
    expect(mail.envelopeTo).toEqual(['me@a.example']);
    expect(mail.from).toContain('news@a2.example');

    const none = await stack.api('POST', '/v1/settings/smtp/test', { to: 'me@c.example' }, as(keyC));
    expect(none.status).toBe(404);
    expect(none.body.error.message).toMatch(/no SMTP settings.*SMTP_URL/);
    const badTo = await stack.api('POST', '/v1/settings/smtp/test', { to: 'not an address' });
    expect(badTo.status).toBe(400);
    expect(badTo.body.error.details[0].path).toBe('to');
  });

  it('refuses bad input naming the field, and stores nothing', async () => {
    const before = await rawGet(keyC);
    expect(before.status).toBe(404);
    const cases: [Record<string, unknown>, string][] = [
      [{ host: 'smtp.example.com', security: 'none', from: 'a@c.example' }, 'security'],
      [{ port: 587, security: 'starttls', from: 'a@c.example' }, 'host'],
      [{ host: 'smtp.example.com', security: 'starttls', from: 'a@c.example, b@c.example' }, 'from'],
      [{ host: 'smtp.example.com', security: 'starttls', from: 'a@c.example', password: 'x' }, 'password'],
      [{ host: 'smtp.example.com', security: 'plain', from: 'a@c.example' }, 'security'],
      [{ host: 'smtp.example.com', security: 'tls', from: 'a@c.example', port: 70000 }, 'port'],
      [{ host: '127.0.0.1', security: 'none', from: 'a@c.example', passwordSet: true }, 'body'],
      // A login with no password given and none stored.
      [{ host: '127.0.0.1', port: 2525, security: 'none', from: 'a@c.example', username: 'u' }, 'password'],
    ];
    for (const [body, path] of cases) {
      const response = await stack.api('PUT', '/v1/settings/smtp', body, as(keyC));
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect(response.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    // A host Herald may not reach: the operator's private network.
    const privateHost = await stack.api(
      'PUT',
      '/v1/settings/smtp',
      { host: '10.1.2.3', security: 'starttls', from: 'a@c.example' },
      as(keyC),
    );
    expect(privateHost.status).toBe(422);
    expect(privateHost.body.error.details[0]).toMatchObject({
      path: 'host',
      message: expect.stringMatching(/private/),
    });
    expect((await rawGet(keyC)).status).toBe(404);
  });

  it('DELETE falls back to the operator’s SMTP_URL', async () => {
    await putB();
    const removed = await stack.api('DELETE', '/v1/settings/smtp', undefined, as(keyB));
    expect(removed.status).toBe(204);
    expect((await stack.api('DELETE', '/v1/settings/smtp', undefined, as(keyB))).status).toBe(404);
    expect((await rawGet(keyB)).status).toBe(404);
    const email = `${uniq('fallback')}@example.com`;
    await finished(keyB, await notify(keyB, email));
    expect(to(stack.sink, email)).toHaveLength(1);
    expect(to(serverB, email)).toHaveLength(0);
  });

  it('herald doctor checks each tenant’s login: ✓ for A, ✗ with the 535 for D, never a password', async () => {
    await Promise.all([putA2(), putD()]);
    await deleteTenantSetting(stack.db, tenantB, 'smtp');
    const checks = await tenantSmtpChecks(stack.db, { HERALD_SECRET_KEY: TEST_SECRET_KEY }, 5_000);
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName[`email (tenant ${stack.tenantId})`]).toMatchObject({
      status: 'ok',
      detail: `login a2-user accepted by 127.0.0.1:${serverA2.smtpPort}`,
    });
    expect(byName[`email (tenant ${tenantD})`]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('535 5.7.8 authentication failed'),
    });
    expect(byName[`email (tenant ${tenantB})`]).toBeUndefined();
    for (const password of PASSWORDS) expect(JSON.stringify(checks)).not.toContain(password);
  });

  it('with TENANT_SMTP_REQUIRED and no SMTP_URL: a tenant without settings is skipped saying why, one with settings sends', async () => {
    const required = { ...LOOPBACK, TENANT_SMTP_REQUIRED: 'true' };
    const strict = await startStack({ apiEnv: required, channelEnv: { ...required, SMTP_URL: '' } });
    try {
      const without = `${uniq('without')}@example.com`;
      const skipped = await strict.api('POST', '/v1/notifications', {
        event: 'test_email',
        to: { emails: [without] },
      });
      const view = await finished(null, skipped.body.id, strict);
      expect(view.recipients[0].deliveries[0]).toMatchObject({
        status: 'skipped',
        error: expect.stringContaining('TENANT_SMTP_REQUIRED'),
      });
      expect(strict.sink.messages()).toHaveLength(0);
      const get = await strict.api('GET', '/v1/settings/smtp');
      expect(get.status).toBe(404);
      expect(get.body.error.message).toContain('TENANT_SMTP_REQUIRED');

      await strict.api(
        'PUT',
        '/v1/settings/smtp',
        settingsFor(serverB, 'b-user', B_PASS, 'Strict <s@strict.example>'),
      );
      const withSettings = `${uniq('with')}@example.com`;
      const sent = await strict.api('POST', '/v1/notifications', {
        event: 'test_email',
        to: { emails: [withSettings] },
      });
      const sentView = await finished(null, sent.body.id, strict);
      expect(sentView.recipients[0].deliveries[0]).toMatchObject({ status: 'sent' });
      expect(to(serverB, withSettings)).toHaveLength(1);
      expect(to(serverB, withSettings)[0]!.from).toContain('s@strict.example');
    } finally {
      await deleteTenantSetting(strict.db, strict.tenantId, 'smtp');
      await strict.close();
    }
  });

  it('keeps at most max transports, closing the least recently used once its sends are done, and rebuilds on a new version', async () => {
    const tenants = [uniq('lru'), uniq('lru'), uniq('lru')];
    const key = decodeSecretKey(TEST_SECRET_KEY);
    for (const tenant of tenants) {
      await createTestTenant(stack.db, tenant);
      await putTenantSetting(
        stack.db,
        tenant,
        'smtp',
        {
          host: '127.0.0.1',
          port: serverA.smtpPort,
          security: 'none',
          username: 'a-user',
          from: `${tenant}@x.example`,
          replyTo: null,
        },
        sealSecret(A_PASS, key),
      );
    }
    const closed: Transporter[] = [];
    const built: Transporter[] = [];
    const cache = new TenantTransports({
      db: stack.db,
      secretKey: key,
      max: 2,
      maxConnections: 1,
      urlPolicy: { allowLoopback: true },
      createTransport: (options) => {
        const transport = nodemailer.createTransport(options);
        const close = transport.close.bind(transport);
        transport.close = () => {
          closed.push(transport);
          close();
        };
        built.push(transport);
        return transport;
      },
    });
    try {
      const [t1, t2, t3] = tenants as [string, string, string];
      const lease1 = (await cache.acquire(t1, randomUUID()))!;
      (await cache.acquire(t2, randomUUID()))!.release();
      (await cache.acquire(t3, randomUUID()))!.release();
      expect(cache.size).toBe(2);
      // t1 was evicted while its send was in flight: closed only when that send is over.
      expect(closed).toEqual([]);
      await lease1.smtp.transport.sendMail({
        from: lease1.smtp.from,
        to: 'lru@example.com',
        subject: 's',
        text: 't',
      });
      lease1.release();
      expect(closed).toEqual([built[0]]);

      // The same version: the cached transport. A new version: a new one, the old closed.
      const again = (await cache.acquire(t3, randomUUID()))!;
      again.release();
      expect(again.smtp.transport).toBe(built[2]);
      await putTenantSetting(
        stack.db,
        t3,
        'smtp',
        {
          host: '127.0.0.1',
          port: serverA.smtpPort,
          security: 'none',
          username: 'a-user',
          from: 'new@x.example',
          replyTo: null,
        },
        undefined,
      );
      const renewed = (await cache.acquire(t3, randomUUID()))!;
      renewed.release();
      expect(renewed.smtp.transport).toBe(built[3]);
      expect(renewed.smtp.from).toEqual({ address: 'new@x.example' });
      expect(closed).toEqual([built[0], built[2]]);
      // Settings removed: no transport, and the cached one closed.
      await deleteTenantSetting(stack.db, t3, 'smtp');
      expect(await cache.acquire(t3, randomUUID())).toBeNull();
      expect(closed).toEqual([built[0], built[2], built[3]]);
    } finally {
      await cache.close();
      for (const tenant of tenants) await deleteTenantSetting(stack.db, tenant, 'smtp');
    }
  });

  it('no password ever reached a log line', () => {
    const all = output.join('\n');
    for (const password of PASSWORDS) expect(all).not.toContain(password);
  });
});
