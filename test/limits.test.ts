import { setTenantDailyQuotas } from '../db/queries/tenants';
import { getSendUsage } from '../db/queries/send-usage';
import { createKey, createTestTenant } from './support/auth';
import { expectError } from './support/expect-error';
import { newDevice } from './support/push-service';
import { startStack, uniq, type Stack } from './support/stack';

const MAX_SENDS = 20;
const MAX_SSE = 2;
const DATA = { ticketId: '1042', title: 'VPN drops every 10 minutes' };

/** Abuse limits (issue 8, section 6): the send cap, daily quotas, and the push and live-stream caps. */
describe('abuse limits', () => {
  let stack: Stack;

  beforeAll(async () => {
    // No worker: every limit here is decided at acceptance, before any workflow runs.
    stack = await startStack({
      worker: false,
      apiEnv: {
        MAX_SENDS_PER_NOTIFICATION: String(MAX_SENDS),
        MAX_SSE_STREAMS_PER_RECIPIENT: String(MAX_SSE),
        HERALD_ALLOW_LOOPBACK_URLS: 'true',
      },
    });
  });

  afterAll(async () => {
    // Accepted notifications wait for a worker that never comes: end them with the test.
    for await (const wf of stack.client.workflow.list({ query: `TaskQueue = '${stack.taskQueue}'` })) {
      await stack.client.workflow
        .getHandle(wf.workflowId)
        .terminate('test over')
        .catch(() => undefined);
    }
    await stack.close();
  });

  let phoneSeq = 0;
  const phones = (n: number) =>
    Array.from(
      { length: n },
      () => `+1555${String(Date.now() % 1e4).padStart(4, '0')}${String(phoneSeq++).padStart(3, '0')}`,
    );
  const emails = (n: number) => Array.from({ length: n }, () => `${uniq('raw')}@example.com`);

  /** A fresh tenant and a key of it with every tenant scope, as request headers. */
  async function freshTenant(): Promise<{ tenantId: string; headers: Record<string, string> }> {
    const tenantId = uniq('limits');
    const { key } = await createTestTenant(stack.db, tenantId);
    return { tenantId, headers: { authorization: `Bearer ${key}` } };
  }

  async function createRecipient(body: Record<string, unknown>): Promise<string> {
    const id = uniq('person');
    expect((await stack.api('PUT', `/v1/recipients/${id}`, body)).status).toBe(201);
    return id;
  }

  /** Every workflow on this test's task queue (visibility lags a little: poll until `expected` are all there). */
  async function workflowsOnQueue(expected: string[]): Promise<string[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found: string[] = [];
      for await (const wf of stack.client.workflow.list({ query: `TaskQueue = '${stack.taskQueue}'` }))
        found.push(wf.workflowId);
      if (expected.every((id) => found.includes(id)) || Date.now() > deadline) return found.sort();
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  describe('MAX_SENDS_PER_NOTIFICATION', () => {
    /** A group of 5 people, all with an email address, 3 with a phone number. */
    let group: string;
    let members: string[];

    beforeAll(async () => {
      members = [];
      for (let i = 0; i < 5; i++)
        members.push(
          await createRecipient({
            email: `${uniq('m')}@example.com`,
            ...(i < 3 ? { phone: phones(1)[0] } : {}),
          }),
        );
      group = uniq('oncall');
      expect((await stack.api('PUT', `/v1/groups/${group}`, { name: `On call ${group}` })).status).toBe(201);
      for (const m of members)
        expect((await stack.api('PUT', `/v1/groups/${group}/members/${m}`)).status).toBe(201);
    });

    // Each pair: the request at exactly the cap (accepted) and one send over it (refused).
    const cases: {
      name: string;
      request: (extra: number) => Record<string, unknown>;
      /** What the refused request counts. */
      over: number;
      paths: string[];
    }[] = [
      {
        // 5 distinct people (a member named twice counts once): 5 emails + 3 phones, plus raw emails.
        name: 'group members, a repeated recipient and raw emails on email and SMS',
        request: (extra) => ({
          to: { groups: [group], recipients: [members[0]], emails: emails(12 + extra) },
          channels: ['email', 'sms'],
        }),
        over: MAX_SENDS + 1,
        paths: ['to'],
      },
      {
        // Named recipients only (counted from the read that checks they exist): members 0 (email, phone)
        // and 3 (email only), member 0 named twice; on the default channels:
        // email 2 + push 0 + sms 1 + inapp 2 + webhook 0 = 5, plus raw emails.
        name: 'named recipients only, one of them twice, on the default channels',
        request: (extra) => ({
          to: { recipients: [members[0], members[3], members[0]], emails: emails(15 + extra) },
        }),
        over: MAX_SENDS + 1,
        paths: ['to'],
      },
      {
        // The template's default channels (email, push, sms, inapp, webhook): 5 + 0 + 3 + 5 + 0, plus raw emails.
        name: "the template's default channels",
        request: (extra) => ({ to: { groups: [group], emails: emails(7 + extra) } }),
        over: MAX_SENDS + 1,
        paths: ['to'],
      },
      {
        // 2 phones by SMS, then per pass the group's 3 phones and the notification's own 2: 2 + 5 × 3 = 17
        // accepted; one pass more, 2 + 5 × 4 = 22, is not.
        name: 'escalation levels and repeats',
        request: (extra) => ({
          to: { phones: phones(2) },
          channels: ['sms'],
          escalation: {
            levels: [{ afterSeconds: 600, groups: [group] }, { afterSeconds: 1200 }],
            repeat: 2 + extra,
          },
        }),
        over: 22,
        paths: ['to', 'escalation.levels[0]', 'escalation.levels[1]', 'escalation.repeat'],
      },
    ];

    it.each(cases)(
      'counts $name: the cap is accepted, one more is 422 with no row and no workflow',
      async (c) => {
        const accepted = await stack.api('POST', '/v1/notifications', {
          event: 'ticket.assigned',
          data: DATA,
          ...c.request(0),
        });
        expect(accepted.status).toBe(202);

        const before = await stack.db.query(
          'SELECT count(*)::int AS n FROM notifications WHERE tenant_id = $1',
          [stack.tenantId],
        );
        const refused = await stack.api('POST', '/v1/notifications', {
          event: 'ticket.assigned',
          data: DATA,
          ...c.request(1),
        });
        expectError(refused, 422, 'send_limit_exceeded');
        expect(refused.body.error.message).toContain(`may cause ${c.over} sends`);
        expect(refused.body.error.message).toContain(`MAX_SENDS_PER_NOTIFICATION (${MAX_SENDS})`);
        expect(refused.body.error.details.map((d: { path: string }) => d.path)).toEqual(c.paths);

        const after = await stack.db.query(
          'SELECT count(*)::int AS n FROM notifications WHERE tenant_id = $1',
          [stack.tenantId],
        );
        expect(after.rows[0].n).toBe(before.rows[0].n);
        // The accepted one shows up on the queue; nothing else was started.
        const accepted2 = await workflowsOnQueue([accepted.body.workflowId]);
        expect(accepted2).toContain(accepted.body.workflowId);
        const known = await stack.db.query('SELECT workflow_id FROM notifications WHERE tenant_id = $1', [
          stack.tenantId,
        ]);
        expect(accepted2).toEqual(known.rows.map((r) => r.workflow_id).sort());
      },
    );

    it('holds for a deadline too: PUT /v1/deadlines/{key} over the cap is 422 and stores nothing', async () => {
      const key = uniq('ticket');
      const refused = await stack.api('PUT', `/v1/deadlines/${key}`, {
        dueAt: new Date(Date.now() + 3_600_000).toISOString(),
        to: { groups: [group], emails: emails(MAX_SENDS) },
        data: DATA,
      });
      expectError(refused, 422, 'send_limit_exceeded');
      expect((await stack.api('GET', `/v1/deadlines/${key}`)).status).toBe(404);
      const fits = await stack.api('PUT', `/v1/deadlines/${key}`, {
        dueAt: new Date(Date.now() + 3_600_000).toISOString(),
        to: { emails: emails(3) },
        data: DATA,
      });
      expect(fits.status).toBe(201);
    });
  });

  it("priority critical without the scope 'critical' is 403 naming it; with it, 202", async () => {
    const sendOnly = await createKey(stack.db, stack.tenantId, ['send']);
    const request = { event: 'ticket.assigned', data: DATA, to: { emails: emails(1) }, priority: 'critical' };
    const refused = await stack.api('POST', '/v1/notifications', request, {
      authorization: `Bearer ${sendOnly.key}`,
    });
    expectError(refused, 403, 'forbidden');
    expect(refused.body.error.message).toContain("'critical'");
    const normal = await stack.api(
      'POST',
      '/v1/notifications',
      { ...request, priority: 'high' },
      {
        authorization: `Bearer ${sendOnly.key}`,
      },
    );
    expect(normal.status).toBe(202);
    const critical = await createKey(stack.db, stack.tenantId, ['send', 'critical']);
    const allowed = await stack.api('POST', '/v1/notifications', request, {
      authorization: `Bearer ${critical.key}`,
    });
    expect(allowed.status).toBe(202);
  });

  describe('daily quotas', () => {
    const sms = (to: string[], headers: Record<string, string>, more: Record<string, unknown> = {}) =>
      stack.api(
        'POST',
        '/v1/notifications',
        { event: 'ticket.assigned', data: DATA, to: { phones: to }, channels: ['sms'], ...more },
        headers,
      );

    it('an SMS quota reached is 429 naming sms, with no row; replays and refused requests reserve nothing', async () => {
      const { tenantId, headers } = await freshTenant();
      await setTenantDailyQuotas(stack.db, tenantId, { sms: 5 });
      const first = phones(3);
      const keyed = { ...headers, 'idempotency-key': uniq('idem') };
      expect((await sms(first, keyed)).status).toBe(202);
      expect(await getSendUsage(stack.db, tenantId)).toEqual({ sms: 3 });

      const refused = await sms(phones(3), headers);
      expectError(refused, 429, 'quota_exceeded');
      expect(refused.body.error.details).toEqual([
        { path: 'quota.sms', message: expect.stringContaining('3 of 5 sms sends used today') },
      ]);
      expect(refused.body.error.message).toMatch(/daily sms quota exceeded: 3 of 5/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(86_400);

      // A request that fails validation reserves nothing.
      const invalid = await sms(phones(1), headers, {
        to: { phones: phones(1), recipients: [uniq('nobody')] },
      });
      expectError(invalid, 422, 'validation_failed');
      // Exactly up to the quota is fine.
      expect((await sms(phones(2), headers)).status).toBe(202);
      expect(await getSendUsage(stack.db, tenantId)).toEqual({ sms: 5 });

      // The quota is full, yet a replay of the first request is answered, and not counted again.
      const replay = await sms(first, keyed);
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await getSendUsage(stack.db, tenantId)).toEqual({ sms: 5 });
      expectError(await sms(phones(1), headers), 429, 'quota_exceeded');

      // Channels without a quota are not held back by the full one.
      const email = await stack.api(
        'POST',
        '/v1/notifications',
        {
          event: 'ticket.assigned',
          data: DATA,
          to: { emails: emails(2) },
          channels: ['email'],
        },
        headers,
      );
      expect(email.status).toBe(202);
      const rows = await stack.db.query('SELECT count(*)::int AS n FROM notifications WHERE tenant_id = $1', [
        tenantId,
      ]);
      expect(rows.rows[0].n).toBe(3);
    });

    it('reserves every channel or none: over the SMS quota, WhatsApp is not counted either', async () => {
      const { tenantId, headers } = await freshTenant();
      await setTenantDailyQuotas(stack.db, tenantId, { sms: 2, whatsapp: 100 });
      const refused = await sms(phones(3), headers, { channels: ['sms', 'whatsapp'] });
      expectError(refused, 429, 'quota_exceeded');
      expect(refused.body.error.details.map((d: { path: string }) => d.path)).toEqual(['quota.sms']);
      expect(await getSendUsage(stack.db, tenantId)).toEqual({});
      expect((await sms(phones(2), headers, { channels: ['sms', 'whatsapp'] })).status).toBe(202);
      expect(await getSendUsage(stack.db, tenantId)).toEqual({ sms: 2, whatsapp: 2 });
    });

    it('holds under concurrent requests: 8 × 2 SMS against a quota of 10 → exactly 5 accepted', async () => {
      const { tenantId, headers } = await freshTenant();
      await setTenantDailyQuotas(stack.db, tenantId, { sms: 10 });
      const answers = await Promise.all(Array.from({ length: 8 }, () => sms(phones(2), headers)));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
      expect(await getSendUsage(stack.db, tenantId)).toEqual({ sms: 10 });
    });

    it('uses DAILY_QUOTA_SMS when the tenant has no quota of its own', async () => {
      const { tenantId, headers } = await freshTenant();
      expect((stack.config as unknown as Record<string, unknown>).DAILY_QUOTA_SMS).toBe(10_000);
      expect((await sms(phones(4), headers)).status).toBe(202);
      expect(await getSendUsage(stack.db, tenantId)).toEqual({ sms: 4 });
    });
  });

  it('MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT: the 11th new endpoint is 422; re-subscribing one is not new', async () => {
    const max = stack.config.MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT;
    expect(max).toBe(10);
    const person = await createRecipient({ name: 'Many devices' });
    const url = `/v1/recipients/${person}/push-subscriptions`;
    const devices = Array.from({ length: max + 1 }, () =>
      newDevice(`http://127.0.0.1:9/push/${uniq('device')}`),
    );
    for (const device of devices.slice(0, max))
      expect((await stack.api('POST', url, device.json)).status).toBe(201);

    const refused = await stack.api('POST', url, devices[max]!.json);
    expectError(refused, 422, 'limit_exceeded');
    expect(refused.body.error.message).toContain(`MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT=${max}`);
    expect(refused.body.error.details).toEqual([
      { path: 'endpoint', message: expect.stringContaining(`${max}`) },
    ]);
    expect((await stack.api('POST', url, devices[3]!.json)).status).toBe(200);

    // An endpoint moving in from someone else is new to this recipient.
    const other = await createRecipient({ name: 'Someone else' });
    const shared = newDevice(`http://127.0.0.1:9/push/${uniq('shared')}`);
    expect((await stack.api('POST', `/v1/recipients/${other}/push-subscriptions`, shared.json)).status).toBe(
      201,
    );
    expectError(await stack.api('POST', url, shared.json), 422, 'limit_exceeded');

    // Removing one frees a place.
    expect((await stack.api('DELETE', url, { endpoint: devices[0]!.endpoint })).status).toBe(204);
    expect((await stack.api('POST', url, devices[max]!.json)).status).toBe(201);
    const count = await stack.db.query(
      'SELECT count(*)::int AS n FROM push_subscriptions WHERE tenant_id = $1 AND external_id = $2',
      [stack.tenantId, person],
    );
    expect(count.rows[0].n).toBe(max);
  });

  describe('MAX_SSE_STREAMS_PER_RECIPIENT', () => {
    interface Opened {
      status: number;
      body: unknown;
      close: () => void;
    }

    /** Opens the live inbox; a 200 is returned once its `ready` event has arrived. */
    async function openStream(externalId: string): Promise<Opened> {
      const controller = new AbortController();
      const response = await fetch(`${stack.baseUrl}/v1/recipients/${externalId}/inbox/stream`, {
        headers: { authorization: `Bearer ${stack.apiKey}` },
        signal: controller.signal,
      });
      const close = () => controller.abort();
      if (response.status !== 200) return { status: response.status, body: await response.json(), close };
      const reader = response.body!.getReader();
      let text = '';
      while (!text.includes('event: ready')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ready: ${text}`);
        text += new TextDecoder().decode(value);
      }
      return { status: 200, body: text, close };
    }

    const open: Opened[] = [];
    afterAll(() => open.forEach((s) => s.close()));

    it(`one stream more than ${MAX_SSE} is 429 with the JSON error; closing one frees a slot`, async () => {
      const person = await createRecipient({ name: 'Watcher' });
      for (let i = 0; i < MAX_SSE; i++) {
        const stream = await openStream(person);
        open.push(stream);
        expect(stream.status).toBe(200);
      }
      const refused = await openStream(person);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({
        error: {
          code: 'too_many_streams',
          message: expect.stringContaining('MAX_SSE_STREAMS_PER_RECIPIENT'),
          details: [{ path: 'externalId', message: `at most ${MAX_SSE} open streams per recipient` }],
        },
      });

      // Another person's streams are counted apart.
      const other = await openStream(await createRecipient({ name: 'Other watcher' }));
      open.push(other);
      expect(other.status).toBe(200);

      // The server notices a closed stream shortly after the client goes.
      open.shift()!.close();
      let again: Opened | null = null;
      for (let attempt = 0; attempt < 50; attempt++) {
        again = await openStream(person);
        if (again.status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      open.push(again!);
      expect(again!.status).toBe(200);
    });
  });
});
