import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseGroupsFile } from '../db/import-groups';
import { parseRoutingFile } from '../db/import-routing';
import { createTenant } from '../db/queries/tenants';
import { TemplateRegistry } from '../templates/registry';
import type { Check } from '../scripts/doctor';
import { createKey, createTestTenant } from './support/auth';
import { ROOT } from './support/env';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type ApiResponse, type Stack } from './support/stack';

/**
 * Event routing (issue 9 §6): an event's default audience. A notification without `to` reaches the
 * routing's groups (each person once), `includeDefaults` adds them to `to`, and the audience is fixed
 * at acceptance. Real API, worker, PostgreSQL, Temporal and a loopback SMTP sink; the CLI and the
 * doctor run as child processes against the same database.
 */

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const EVENT = 'invoice.processed';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'herald-routing-'));

interface Delivery {
  externalId: string | null;
  channel: string;
  address: string;
  status: string;
}

let stack: Stack;
/** Tenants whose routing the file removes at the end, so later files' doctor runs never see it. */
const tenants: string[] = [];
const s = uniq('rt');
const people = {
  alice: `alice-${s}`,
  bob: `bob-${s}`,
  carol: `carol-${s}`,
  dave: `dave-${s}`,
};
const emailOf = (id: string) => `${id}@example.com`;
const admins = { key: `admins-${s}`, name: `System Admins ${s}` };
const sales = { key: `sales-${s}`, name: `Sales Team ${s}` };

beforeAll(async () => {
  stack = await startStack();
  tenants.push(stack.tenantId);
  for (const id of Object.values(people)) {
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name: id, email: emailOf(id) })).status).toBe(
      201,
    );
  }
  // Bob is in both groups: he must still get one message.
  for (const [group, members] of [
    [admins, [people.alice, people.bob]],
    [sales, [people.bob, people.carol]],
  ] as const) {
    expect((await stack.api('PUT', `/v1/groups/${group.key}`, { name: group.name })).status).toBe(201);
    for (const id of members)
      expect((await stack.api('PUT', `/v1/groups/${group.key}/members/${id}`)).status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await stack.db.query('DELETE FROM event_routing WHERE tenant_id = ANY($1::text[])', [tenants]);
  await stack.close();
  rmSync(tmp, { recursive: true, force: true });
});

let invoices = 0;
/** Invoice data with a number no other notification of this file uses (mails are told apart by it). */
const invoice = () => ({ invoiceNumber: `INV-${s}-${++invoices}`, amount: 'USD 10.00' });

async function send(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return stack.api('POST', '/v1/notifications', body, headers);
}

/** Sends, waits for the end, and returns who got what: deliveries and the mails with this invoice number. */
async function sendAndCollect(body: Record<string, unknown>) {
  const data = invoice();
  const created = await send({ event: EVENT, data, ...body });
  expect(created.status).toBe(202);
  const view = await waitForNotification(stack, created.body.id);
  expect(view.status).toBe('completed');
  const deliveries: Delivery[] = (
    await stack.api('GET', `/v1/deliveries?notification=${created.body.id}&limit=500`)
  ).body.items;
  const mails = stack.sink.messages().filter((m) => m.subject.includes(data.invoiceNumber));
  return { id: created.body.id as string, deliveries, mails };
}

const sorted = <T extends string | null>(list: T[]): T[] => [...list].sort();
const byChannel = (deliveries: Delivery[], channel: string) =>
  sorted(deliveries.filter((d) => d.channel === channel).map((d) => d.externalId));

describe('PUT /v1/events/{event}/routing, then notifications without `to`', () => {
  beforeAll(async () => {
    const put = await stack.api('PUT', `/v1/events/${EVENT}/routing`, { groups: [admins.name, sales.name] });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({
      event: EVENT,
      groups: [admins.name, sales.name],
      recipients: [],
      updatedAt: expect.any(String),
    });
  });

  it('reaches exactly the members of both groups, each person once (mails and deliveries)', async () => {
    const { deliveries, mails } = await sendAndCollect({});
    const everyone = sorted([people.alice, people.bob, people.carol]);
    expect(byChannel(deliveries, 'email')).toEqual(everyone);
    expect(byChannel(deliveries, 'inapp')).toEqual(everyone);
    expect(deliveries).toHaveLength(6);
    expect(deliveries.every((d) => d.status === 'sent')).toBe(true);
    // Bob is in both groups and gets one mail; nobody outside the groups gets any.
    expect(sorted(mails.flatMap((m) => m.envelopeTo))).toEqual(everyone.map(emailOf));
  });

  it('`to` plus includeDefaults adds the default audience, each person once; `to` alone does not', async () => {
    const both = await sendAndCollect({
      to: { recipients: [people.dave, people.alice] },
      includeDefaults: true,
    });
    const all = sorted([people.alice, people.bob, people.carol, people.dave]);
    expect(byChannel(both.deliveries, 'email')).toEqual(all);
    expect(sorted(both.mails.flatMap((m) => m.envelopeTo))).toEqual(all.map(emailOf));

    const own = await sendAndCollect({ to: { recipients: [people.dave] } });
    expect(byChannel(own.deliveries, 'email')).toEqual([people.dave]);
    expect(own.mails.flatMap((m) => m.envelopeTo)).toEqual([emailOf(people.dave)]);
  });

  it('fixes the audience at acceptance: an idempotent replay after a routing change is the same notification', async () => {
    const key = uniq('idem');
    const body = { event: EVENT, data: invoice() };
    const first = await send(body, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    await waitForNotification(stack, first.body.id);
    const stored = await stack.db.query('SELECT request FROM notifications WHERE id = $1', [first.body.id]);
    // The workflow got the resolved audience, not "whatever the routing says".
    expect(stored.rows[0].request.to).toEqual({ groups: [admins.name, sales.name] });
    expect(stored.rows[0].request).not.toHaveProperty('includeDefaults');

    expect((await stack.api('PUT', `/v1/events/${EVENT}/routing`, { groups: [sales.name] })).status).toBe(
      200,
    );
    try {
      const replay = await send(body, { 'idempotency-key': key });
      expect(replay.status).toBe(202);
      expect(replay.body.id).toBe(first.body.id);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      const deliveries: Delivery[] = (await stack.api('GET', `/v1/deliveries?notification=${first.body.id}`))
        .body.items;
      expect(byChannel(deliveries, 'email')).toEqual(sorted([people.alice, people.bob, people.carol]));
      // The hash is over the client's body: naming `to` now is another body.
      const other = await send({ ...body, to: { recipients: [people.dave] } }, { 'idempotency-key': key });
      expectError(other, 422, 'idempotency_key_reused');
    } finally {
      await stack.api('PUT', `/v1/events/${EVENT}/routing`, { groups: [admins.name, sales.name] });
    }
  });

  it('GET /v1/events lists every event of the catalogue, with its routing or null', async () => {
    const list = await stack.api('GET', '/v1/events');
    expect(list.status).toBe(200);
    const templates = (await stack.api('GET', '/v1/templates')).body.items;
    expect(list.body.items.map((e: { event: string }) => e.event)).toEqual(
      sorted(templates.map((t: { event: string }) => t.event)),
    );
    expect(list.body.items.find((e: { event: string }) => e.event === EVENT)).toEqual({
      event: EVENT,
      category: 'invoices',
      description: expect.any(String),
      routing: {
        event: EVENT,
        groups: [admins.name, sales.name],
        recipients: [],
        updatedAt: expect.any(String),
      },
    });
    expect(list.body.items.find((e: { event: string }) => e.event === 'payment.received').routing).toBeNull();
    const one = await stack.api('GET', `/v1/events/${EVENT}/routing`);
    expect(one.status).toBe(200);
    expect(one.body.groups).toEqual([admins.name, sales.name]);
  });
});

describe('no `to` and no default audience', () => {
  it('is a 422 naming `to`, with no notification row (so no workflow)', async () => {
    const key = uniq('none');
    const count = async () =>
      Number(
        (await stack.db.query('SELECT count(*) FROM notifications WHERE tenant_id = $1', [stack.tenantId]))
          .rows[0].count,
      );
    const before = await count();
    const refused = await send(
      { event: 'payment.received', data: { amount: 'USD 1', reference: 'R-1' } },
      { 'idempotency-key': key },
    );
    expectError(refused, 422, 'validation_failed');
    expect(refused.body.error.details).toEqual([
      {
        path: 'to',
        message: 'name recipients or set a default audience with PUT /v1/events/payment.received/routing',
      },
    ]);
    expect(await count()).toBe(before);
    const row = await stack.db.query(
      'SELECT 1 FROM notifications WHERE tenant_id = $1 AND idempotency_key = $2',
      [stack.tenantId, key],
    );
    expect(row.rowCount).toBe(0);
  });

  it('includeDefaults without a routing sends to `to` only', async () => {
    const data = { amount: 'USD 2', reference: `R-${s}` };
    const created = await send({
      event: 'payment.received',
      to: { recipients: [people.dave] },
      includeDefaults: true,
      data,
      channels: ['email'],
    });
    expect(created.status).toBe(202);
    await waitForNotification(stack, created.body.id);
    const mails = stack.sink.messages().filter((m) => m.subject.includes(data.reference));
    expect(mails.flatMap((m) => m.envelopeTo)).toEqual([emailOf(people.dave)]);
  });

  it('a routed group that does not exist is refused on `to`, saying it comes from the default audience', async () => {
    const ghost = `Ghost Team ${s}`;
    expect((await stack.api('PUT', '/v1/events/backup.failed/routing', { groups: [ghost] })).status).toBe(
      201,
    );
    const refused = await send({ event: 'backup.failed', data: { backupName: 'nas', error: 'disk full' } });
    expectError(refused, 422, 'validation_failed');
    expect(refused.body.error.details).toEqual([
      {
        path: 'to',
        message: `unknown group '${ghost}' in the default audience of backup.failed (GET /v1/events/backup.failed/routing)`,
      },
    ]);
    // The client's own entries keep their own paths.
    const mixed = await send({
      event: 'backup.failed',
      to: { groups: ['Nope'] },
      includeDefaults: true,
      data: { backupName: 'nas', error: 'disk full' },
    });
    expect(mixed.body.error.details.map((d: { path: string }) => d.path)).toEqual(['to.groups[0]', 'to']);
    expect((await stack.api('DELETE', '/v1/events/backup.failed/routing')).status).toBe(204);
  });

  it('the send cap counts the default audience', async () => {
    const capped = await startStack({ worker: false, apiEnv: { MAX_SENDS_PER_NOTIFICATION: '2' } });
    tenants.push(capped.tenantId);
    try {
      for (const id of ['x1', 'x2', 'x3'])
        expect(
          (await capped.api('PUT', `/v1/recipients/${id}`, { email: `${id}-${s}@example.com` })).status,
        ).toBe(201);
      expect((await capped.api('PUT', '/v1/groups/crew', { name: 'Crew' })).status).toBe(201);
      for (const id of ['x1', 'x2', 'x3'])
        expect((await capped.api('PUT', `/v1/groups/crew/members/${id}`)).status).toBe(201);
      expect((await capped.api('PUT', `/v1/events/${EVENT}/routing`, { groups: ['Crew'] })).status).toBe(201);
      const refused = await capped.api('POST', '/v1/notifications', {
        event: EVENT,
        data: invoice(),
        channels: ['email'],
      });
      expectError(refused, 422, 'send_limit_exceeded');
    } finally {
      await capped.close();
    }
  }, 60_000);
});

describe('validation, scopes, DELETE and tenant isolation', () => {
  const put = (body: unknown, event = EVENT) => stack.api('PUT', `/v1/events/${event}/routing`, body);
  const paths = (r: ApiResponse) => r.body.error.details.map((d: { path: string }) => d.path);

  it('refuses malformed routings with 400 naming the entry, and unknown events with 404', async () => {
    const cases: [unknown, string[]][] = [
      [{ groups: [] }, ['groups']],
      [{}, ['groups']],
      [{ groups: ['A', 'B', 'A'] }, ['groups[2]']],
      [{ groups: ['Ops\nTeam'] }, ['groups[0]']],
      [{ groups: [' Ops'] }, ['groups[0]']],
      [{ recipients: [''] }, ['recipients[0]']],
      [{ groups: [''] }, ['groups[0]']],
      [{ groups: ['Ops'], emails: ['a@b.co'] }, ['body']],
    ];
    for (const [body, expected] of cases) {
      const refused = await put(body);
      expectError(refused, 400, 'validation_failed');
      expect(paths(refused).length).toBeGreaterThan(0);
      if (expected[0] !== 'body') expect(paths(refused)).toEqual(expected);
    }
    expect((await put({ groups: ['A', 'B', 'A'] })).body.error.details[0].message).toContain('repeated');
    expectError(await put({ groups: ['Ops'] }, 'no.such.event'), 404, 'not_found');
    expectError(await stack.api('GET', '/v1/events/no.such.event/routing'), 404, 'not_found');
    // The refusals changed nothing.
    expect((await stack.api('GET', `/v1/events/${EVENT}/routing`)).body.groups).toEqual([
      admins.name,
      sales.name,
    ]);
  });

  it('a read key may look but not set', async () => {
    const { key } = await createKey(stack.db, stack.tenantId, ['read']);
    const auth = { authorization: `Bearer ${key}` };
    expect((await stack.api('GET', '/v1/events', undefined, auth)).status).toBe(200);
    expectError(
      await stack.api('PUT', `/v1/events/${EVENT}/routing`, { groups: ['X'] }, auth),
      403,
      'forbidden',
    );
    expectError(await stack.api('DELETE', `/v1/events/${EVENT}/routing`, undefined, auth), 403, 'forbidden');
  });

  it("tenant B sees none of A's routing and cannot change it", async () => {
    const b = uniq('tenant-b');
    tenants.push(b);
    const { key } = await createTestTenant(stack.db, b);
    const asB = (method: string, p: string, body?: unknown) =>
      stack.api(method, p, body, { authorization: `Bearer ${key}` });
    const events = await asB('GET', '/v1/events');
    expect(events.body.items.find((e: { event: string }) => e.event === EVENT).routing).toBeNull();
    expectError(await asB('GET', `/v1/events/${EVENT}/routing`), 404, 'not_found');
    expectError(await asB('DELETE', `/v1/events/${EVENT}/routing`), 404, 'not_found');
    // Without `to`, B's notification does not borrow A's audience.
    const refused = await asB('POST', '/v1/notifications', { event: EVENT, data: invoice() });
    expectError(refused, 422, 'validation_failed');
    expect(paths(refused)).toEqual(['to']);
    // B's own routing names A's group names: B has no such groups, and A's routing is untouched.
    expect((await asB('PUT', `/v1/events/${EVENT}/routing`, { groups: [admins.name] })).status).toBe(201);
    const bSend = await asB('POST', '/v1/notifications', { event: EVENT, data: invoice() });
    expect(bSend.body.error.details[0].message).toContain(`unknown group '${admins.name}'`);
    expect((await stack.api('GET', `/v1/events/${EVENT}/routing`)).body.groups).toEqual([
      admins.name,
      sales.name,
    ]);
  });

  it('DELETE removes the routing: 204, then 404, and notifications need `to` again', async () => {
    const event = 'payment.failed';
    expect((await put({ groups: [admins.key] }, event)).status).toBe(201);
    expect((await stack.api('DELETE', `/v1/events/${event}/routing`)).status).toBe(204);
    expectError(await stack.api('GET', `/v1/events/${event}/routing`), 404, 'not_found');
    expectError(await stack.api('DELETE', `/v1/events/${event}/routing`), 404, 'not_found');
  });
});

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process, asynchronously (this process runs the API and worker meanwhile). */
function herald(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      ['scripts/herald.ts', ...args],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: stack.env.databaseUrl, ...env }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

const fixture = (name: string, content: unknown) => {
  const file = path.join(tmp, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
};

describe('herald routing import / list', () => {
  let tenant: string;
  beforeAll(async () => {
    tenant = uniq('cli-rt');
    tenants.push(tenant);
    await createTenant(stack.db, tenant, 'routing CLI');
  });
  const listJson = async () => {
    const listed = await herald(['routing', 'list', '--tenant', tenant, '--json']);
    expect(listed.status).toBe(0);
    return JSON.parse(listed.stdout) as { event: string; groups: string[]; recipients: string[] }[];
  };

  it('imports a valid file, says which groups do not exist yet, lists it, and a second run changes nothing', async () => {
    const file = fixture('good.yaml', {
      events: {
        [EVENT]: { groups: ['System Admins', 'Sales Team'] },
        'job.failed': { groups: ['System Admins'], recipients: ['oncall-1'] },
      },
    });
    const imported = await herald(['routing', 'import', file, '--tenant', tenant]);
    expect(imported).toMatchObject({ status: 0, stderr: '' });
    expect(imported.stdout.split('\n')).toEqual([
      'routing: 2 set, 0 unchanged, 0 removed',
      `note: no group "System Admins" yet (routed by ${EVENT}, job.failed); herald doctor lists them`,
      `note: no group "Sales Team" yet (routed by ${EVENT}); herald doctor lists them`,
      '',
    ]);
    expect(await listJson()).toEqual([
      {
        event: EVENT,
        groups: ['System Admins', 'Sales Team'],
        recipients: [],
        updatedAt: expect.any(String),
      },
      {
        event: 'job.failed',
        groups: ['System Admins'],
        recipients: ['oncall-1'],
        updatedAt: expect.any(String),
      },
    ]);
    const table = await herald(['routing', 'list', '--tenant', tenant]);
    expect(table.stdout).toMatch(/^EVENT +GROUPS +RECIPIENTS$/m);
    expect(table.stdout).toMatch(/^invoice\.processed +System Admins, Sales Team +-$/m);
    expect((await herald(['routing', 'import', file, '--tenant', tenant])).stdout).toContain(
      'routing: 0 set, 2 unchanged, 0 removed',
    );
  }, 120_000);

  it('an invalid file writes nothing, names each entry and field, and exits 2', async () => {
    const before = await listJson();
    const file = fixture(
      'bad.yaml',
      [
        'events:',
        `  ${EVENT}:`,
        '    groups: [Finance Team]', // valid: still not written
        '  job.failed:',
        '    groups: [System Admins, System Admins]',
        '    channels: [sms]',
        '  ticket.created:',
        '    recipients: []',
        '',
      ].join('\n'),
    );
    const refused = await herald(['routing', 'import', file, '--tenant', tenant]);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    const lines = refused.stderr.trim().split('\n');
    expect(lines[0]).toBe(`herald: ${file}: 3 problem(s), nothing was imported`);
    expect(lines.slice(1).sort()).toEqual(
      [
        'events.job.failed.channels: unknown field',
        'events.job.failed.groups[1]: "System Admins" is repeated (first at [0])',
        'events.ticket.created.groups: name at least one group or recipient (to remove the routing, DELETE it)',
      ].sort(),
    );
    const unknown = await herald([
      'routing',
      'import',
      fixture('unknown.yaml', { events: { 'invoice.procesed': { groups: ['X'] } } }),
      '--tenant',
      tenant,
    ]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('events.invoice.procesed: no such event in the catalogue');
    const broken = await herald([
      'routing',
      'import',
      fixture('broken.yaml', 'events: [unclosed'),
      '--tenant',
      tenant,
    ]);
    expect(broken.status).toBe(2);
    expect(broken.stderr).toMatch(/broken\.yaml:1:\d+: /);
    expect(await listJson()).toEqual(before);
  }, 120_000);

  it('--prune removes the routing of events the file leaves out; bad command lines exit 2', async () => {
    const file = fixture(
      'only-jobs.json',
      JSON.stringify({ events: { 'job.failed': { groups: ['System Admins'] } } }),
    );
    const pruned = await herald(['routing', 'import', file, '--tenant', tenant, '--prune']);
    expect(pruned.stdout).toContain('routing: 1 set, 0 unchanged, 1 removed');
    expect((await listJson()).map((r) => r.event)).toEqual(['job.failed']);

    expect((await herald(['routing', 'import', file])).status).toBe(2);
    const nobody = await herald(['routing', 'list', '--tenant', `nobody-${tenant}`]);
    expect(nobody.status).toBe(2);
    expect(nobody.stderr).toContain('unknown tenant');
    expect(
      (await herald(['routing', 'import', path.join(tmp, 'missing.yaml'), '--tenant', tenant])).status,
    ).toBe(2);
    expect((await herald(['routing', 'rename', '--tenant', tenant])).status).toBe(2);
  }, 120_000);

  it('examples/routing.yaml is valid and routes only to groups of the demo data', async () => {
    const catalogue = await TemplateRegistry.load();
    const text = readFileSync(path.join(ROOT, 'examples', 'routing.yaml'), 'utf8');
    const parsed = parseRoutingFile(text, 'routing.yaml', (e) => catalogue.has(e));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(parsed.value.events[EVENT]).toEqual({ groups: ['System Admins', 'Sales Team'], recipients: [] });
    const demo = parseGroupsFile(
      readFileSync(path.join(ROOT, 'db', 'seed', 'demo.yaml'), 'utf8'),
      'demo.yaml',
    );
    if (!demo.ok) throw new Error(JSON.stringify(demo.problems));
    const demoGroups = new Set(demo.value.groups.flatMap((g) => [g.key, g.name]));
    for (const routing of Object.values(parsed.value.events))
      for (const group of routing.groups) expect(demoGroups).toContain(group);
  });
});

describe('herald doctor: which groups do I need to create', () => {
  it('names the routed group that does not exist (✗) and the one without members (⚠)', async () => {
    const tenant = uniq('doc-rt');
    tenants.push(tenant);
    await createTenant(stack.db, tenant, 'routing doctor');
    await stack.db.query(
      `INSERT INTO groups (tenant_id, key, name) VALUES ($1, 'sales-team', 'Sales Team')`,
      [tenant],
    );
    await stack.db.query(
      `INSERT INTO event_routing (tenant_id, event, groups) VALUES ($1, $2, ARRAY['System Admins', 'Sales Team'])`,
      [tenant, EVENT],
    );
    const env = {
      TEMPORAL_ADDRESS: stack.env.temporalAddress,
      TEMPORAL_NAMESPACE: stack.env.namespace,
      SMTP_URL: `${stack.sink.url}?tls=off`,
    };
    const json = await herald(['doctor', '--json'], env);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: Check[] };
    const mine = report.checks.filter((c) => c.name === 'routing' && c.detail.startsWith(`${tenant}/`));
    expect(mine).toEqual([
      {
        name: 'routing',
        status: 'fail',
        detail: `${tenant}/${EVENT}: no group "System Admins" (its notifications without "to" are refused)`,
        fix: expect.stringContaining(`herald groups import <file> --tenant ${tenant}`),
      },
      {
        name: 'routing',
        status: 'warn',
        detail: `${tenant}/${EVENT}: group "Sales Team" has no members (reaching nobody)`,
        fix: `add members with herald groups import <file> --tenant ${tenant}`,
      },
    ]);
    // A missing group is broken: exit 1. The stack's own routing (groups with members) is not named.
    expect(json.status).toBe(1);
    expect(report.checks.some((c) => c.detail.startsWith(`${stack.tenantId}/`))).toBe(false);

    const text = await herald(['doctor'], env);
    expect(text.stdout).toContain(`✗ routing  ${tenant}/${EVENT}: no group "System Admins"`);
    expect(text.stdout).toContain(`⚠ routing  ${tenant}/${EVENT}: group "Sales Team" has no members`);
  }, 120_000);
});
