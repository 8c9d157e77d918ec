import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { TENANT_SCOPES } from '../common/api-keys';
import { parseGroupsFile } from '../db/import-groups';
import { createPool } from '../db/pool';
import { createTenant } from '../db/queries/tenants';
import { readTestEnv, ROOT } from './support/env';
import { startStack, uniq, type Stack } from './support/stack';

// The CLI runs as a child process against the database the global setup started and migrated.
// Every test uses its own suffixed ids, since other test files share that database.

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const databaseUrl = readTestEnv().databaseUrl;
const db = createPool(databaseUrl, 2);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'herald-cli-'));
/** The tenant the groups tests import into. */
const tenant = uniq('cli');

beforeAll(async () => {
  await createTenant(db, tenant, 'CLI test');
});

afterAll(async () => {
  await db.end();
  rmSync(tmp, { recursive: true, force: true });
});

function herald(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(TSX, ['scripts/herald.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeFixture(name: string, content: unknown): string {
  const file = path.join(tmp, name);
  writeFileSync(file, name.endsWith('.json') ? JSON.stringify(content) : stringify(content));
  return file;
}

/** Three people and two groups sharing one of them, all named with a fresh suffix. */
function helpDesk() {
  const s = uniq('cli');
  const ids = { alice: `alice-${s}`, bob: `bob-${s}`, carol: `carol-${s}` };
  const keys = { admins: `admins-${s}`, sales: `sales-${s}` };
  const file = {
    recipients: [
      {
        externalId: ids.alice,
        name: 'Alice Admin',
        email: `alice-${s}@example.com`,
        timezone: 'Africa/Harare',
      },
      { externalId: ids.bob, name: 'Bob Builder', email: `bob-${s}@example.com`, timezone: 'Europe/London' },
      { externalId: ids.carol, name: 'Carol Seller', email: `carol-${s}@example.com` },
    ],
    groups: [
      {
        key: keys.admins,
        name: `System Admins ${s}`,
        description: 'Receive every failure',
        members: [ids.alice, ids.bob],
      },
      { key: keys.sales, name: `Sales Team ${s}`, members: [ids.bob, ids.carol] },
    ],
  };
  return { ids, keys, file };
}

async function memberIds(groupKey: string): Promise<string[]> {
  const result = await db.query<{ external_id: string }>(
    `SELECT external_id FROM group_members WHERE tenant_id = $1 AND group_key = $2 ORDER BY external_id`,
    [tenant, groupKey],
  );
  return result.rows.map((r) => r.external_id);
}

const FRESH_IMPORT =
  'groups: 2 created, 0 updated; recipients: 3 created, 0 updated; members: 4 added, 0 removed';
const NOTHING_CHANGED =
  'groups: 0 created, 0 updated; recipients: 0 created, 0 updated; members: 0 added, 0 removed';

describe('herald CLI', () => {
  it('imports 2 groups and 3 recipients, then lists them with member counts', () => {
    const { keys, file } = helpDesk();
    const imported = herald(
      'groups',
      'import',
      writeFixture(`${keys.admins}.yaml`, file),
      '--tenant',
      tenant,
    );
    expect(imported).toMatchObject({ status: 0, stderr: '' });
    expect(imported.stdout.trim()).toBe(FRESH_IMPORT);

    const listed = herald('groups', 'list', '--json', '--tenant', tenant);
    expect(listed.status).toBe(0);
    const groups = JSON.parse(listed.stdout) as { key: string; name: string; memberCount: number }[];
    expect(groups.find((g) => g.key === keys.admins)).toMatchObject({
      name: file.groups[0]!.name,
      memberCount: 2,
    });
    expect(groups.find((g) => g.key === keys.sales)).toMatchObject({ memberCount: 2 });

    const table = herald('groups', 'list', '--tenant', tenant);
    expect(table.stdout).toMatch(/^KEY +NAME +MEMBERS$/m);
    expect(table.stdout).toMatch(new RegExp(`^${keys.admins} +System Admins \\S+ +2$`, 'm'));
  });

  it('changes nothing when the same file is imported again', async () => {
    const { keys, file } = helpDesk();
    const fixture = writeFixture(`${keys.admins}.json`, file);
    expect(herald('groups', 'import', fixture, '--tenant', tenant).stdout.trim()).toBe(FRESH_IMPORT);
    const before = await db.query('SELECT updated_at FROM groups WHERE key = $1', [keys.admins]);

    const again = herald('groups', 'import', fixture, '--tenant', tenant);
    expect(again.status).toBe(0);
    expect(again.stdout.trim()).toBe(NOTHING_CHANGED);
    const after = await db.query('SELECT updated_at FROM groups WHERE key = $1', [keys.admins]);
    expect(after.rows).toEqual(before.rows);
  });

  it('reports every problem with its path, exits 2 and writes nothing', async () => {
    const { ids, keys, file } = helpDesk();
    const stranger = `nobody-${keys.admins}`;
    file.groups[0]!.members.push(stranger);
    file.groups[1]!.name = file.groups[0]!.name;
    const result = herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, file), '--tenant', tenant);

    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`groups[0].members[2]: no recipient "${stranger}"`);
    expect(result.stderr).toContain(
      `groups[1].name: group name "${file.groups[0]!.name}" is repeated (first at groups[0].name)`,
    );
    const written = await db.query(
      `SELECT (SELECT count(*) FROM groups WHERE key = ANY($1)) AS groups,
              (SELECT count(*) FROM recipients WHERE external_id = ANY($2)) AS recipients`,
      [Object.values(keys), Object.values(ids)],
    );
    expect(written.rows[0]).toEqual({ groups: '0', recipients: '0' });
  });

  it('reports a name that belongs to another stored group', () => {
    const first = helpDesk();
    expect(
      herald('groups', 'import', writeFixture(`${first.keys.admins}.yaml`, first.file), '--tenant', tenant)
        .status,
    ).toBe(0);
    const second = helpDesk();
    second.file.groups[0]!.name = first.file.groups[0]!.name;
    const result = herald(
      'groups',
      'import',
      writeFixture(`${second.keys.admins}.yaml`, second.file),
      '--tenant',
      tenant,
    );

    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `groups[0].name: "${first.file.groups[0]!.name}" is already the name of group "${first.keys.admins}"`,
    );
  });

  it('keeps unlisted members unless --prune is given', async () => {
    const { ids, keys, file } = helpDesk();
    expect(
      herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, file), '--tenant', tenant).status,
    ).toBe(0);
    file.groups[0]!.members = [ids.alice];
    const fixture = writeFixture(`${keys.admins}-fewer.yaml`, file);

    expect(herald('groups', 'import', fixture, '--tenant', tenant).stdout.trim()).toBe(NOTHING_CHANGED);
    expect(await memberIds(keys.admins)).toEqual([ids.alice, ids.bob]);

    const pruned = herald('groups', 'import', fixture, '--prune', '--tenant', tenant);
    expect(pruned.status).toBe(0);
    expect(pruned.stdout).toContain('members: 0 added, 1 removed');
    expect(await memberIds(keys.admins)).toEqual([ids.alice]);
    expect(await memberIds(keys.sales)).toEqual([ids.bob, ids.carol]);
  });

  it('reports schema problems with their paths before touching the database', () => {
    const { keys, file } = helpDesk();
    const broken = {
      ...file,
      recipients: [{ ...file.recipients[0], email: 'not-an-email', timezone: 'Mars/Olympus' }],
      groups: [{ ...file.groups[0], key: 'has spaces', colour: 'red' }],
    };
    const result = herald(
      'groups',
      'import',
      writeFixture(`${keys.admins}.yaml`, broken),
      '--tenant',
      tenant,
    );

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('recipients[0].email: not a valid email address');
    expect(result.stderr).toContain('recipients[0].timezone: not an IANA time zone');
    expect(result.stderr).toContain('groups[0].key: use letters, digits, . _ -');
    expect(result.stderr).toContain('groups[0].colour: unknown field');
  });

  it('needs --tenant naming a tenant that exists for groups and seed', () => {
    const { keys, file } = helpDesk();
    const fixture = writeFixture(`${keys.admins}.yaml`, file);
    for (const args of [['groups', 'import', fixture], ['groups', 'list'], ['seed']]) {
      const missing = herald(...args);
      expect({ args, status: missing.status }).toEqual({ args, status: 2 });
      expect(missing.stderr).toContain('say which tenant with --tenant <id>');

      const unknown = herald(...args, '--tenant', `nobody-${keys.admins}`);
      expect({ args, status: unknown.status }).toEqual({ args, status: 2 });
      expect(unknown.stderr).toContain(`unknown tenant "nobody-${keys.admins}"`);
    }
    expect(herald('groups', 'list', '--tenant').stderr).toContain('--tenant needs a value');
  });

  it("keeps each tenant's groups to itself", async () => {
    const other = uniq('cli-other');
    await createTenant(db, other, 'Other');
    const { keys, file } = helpDesk();
    expect(
      herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, file), `--tenant=${other}`).status,
    ).toBe(0);

    const mine = JSON.parse(herald('groups', 'list', '--json', '--tenant', tenant).stdout) as {
      key: string;
    }[];
    const theirs = JSON.parse(herald('groups', 'list', '--json', '--tenant', other).stdout) as {
      key: string;
    }[];
    expect(theirs.map((g) => g.key).sort()).toEqual([keys.admins, keys.sales]);
    expect(mine.map((g) => g.key)).not.toContain(keys.admins);
  });

  it('reports migrations as already applied', () => {
    const result = herald('migrate');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('already applied  0001_core.sql');
    expect(result.stdout).toMatch(/migrations: 0 applied, \d+ already applied/);
  });

  it('rejects an unknown command with the usage on stderr', () => {
    const result = herald('nonsense');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown command "nonsense"');
    expect(result.stderr).toContain('Usage: herald');
    expect(result.stdout).toBe('');
  });

  it('says which file it cannot read', () => {
    const missing = path.join(tmp, 'missing.yaml');
    const result = herald('groups', 'import', missing, '--tenant', tenant);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`herald: cannot read ${missing}: no such file`);
  });

  it('prints the usage for help', () => {
    const result = herald('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('groups import <file> --tenant <id> [--prune]');
    expect(result.stdout).toContain('keys create --tenant <id> --scopes');
  });
});

interface Json {
  status: number | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the command printed
  body: any;
  stderr: string;
}

/**
 * Like `herald`, without blocking: these tests also talk to an API in this process, whose
 * keep-alive connections a blocked event loop would find reset.
 */
function heraldAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      ['scripts/herald.ts', ...args],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/** Runs a command with --json and parses its answer (null when it printed nothing). */
async function heraldJson(...args: string[]): Promise<Json> {
  const result = await heraldAsync(...args, '--json');
  let body: unknown = null;
  if (result.stdout.trim()) {
    try {
      body = JSON.parse(result.stdout);
    } catch {
      throw new Error(`not JSON (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
  }
  return { status: result.status, body, stderr: result.stderr };
}

describe('herald tenants and keys', () => {
  // An API on the test database, to show that what the CLI mints and revokes holds there.
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const as = (key: string, method: string, path: string, body?: unknown) =>
    stack.api(method, path, body, { authorization: `Bearer ${key}` });

  it('tenants create prints the tenant and its first key, which opens that tenant in the API', async () => {
    const id = uniq('acme');
    const created = await heraldJson('tenants', 'create', id, '--name', 'Acme Corp');
    expect(created).toMatchObject({ status: 0, stderr: '' });
    expect(created.body).toEqual({
      tenant: id,
      key: expect.stringMatching(/^hk_[A-Za-z0-9_-]{43}$/),
      keyId: expect.any(String),
      scopes: [...TENANT_SCOPES],
    });

    const put = await as(created.body.key, 'PUT', '/v1/recipients/ann', {
      name: 'Ann',
      email: 'ann@example.com',
    });
    expect(put.status).toBeLessThan(300);
    const stored = await db.query(
      'SELECT tenant_id FROM recipients WHERE external_id = $1 AND tenant_id = $2',
      ['ann', id],
    );
    expect(stored.rowCount).toBe(1);

    const listed = await heraldJson('tenants', 'list');
    expect(listed.status).toBe(0);
    expect(listed.body.find((t: { id: string }) => t.id === id)).toEqual({
      id,
      name: 'Acme Corp',
      createdAt: expect.any(String),
      activeKeys: 1,
      dailyQuotas: {},
    });
    const table = await heraldAsync('tenants', 'list');
    expect(table.stdout).toMatch(/^ID +NAME +CREATED +KEYS +QUOTAS$/m);
    expect(table.stdout).toMatch(new RegExp(`^${id} +Acme Corp +\\S+ +1 +-$`, 'm'));
  });

  it('tenants create refuses a taken id (exit 1) and an invalid one (exit 2)', async () => {
    const id = uniq('taken');
    expect((await heraldJson('tenants', 'create', id)).status).toBe(0);
    const again = await heraldJson('tenants', 'create', id);
    expect(again.status).toBe(1);
    expect(again.body).toBeNull();
    expect(again.stderr).toContain(`tenant "${id}" exists already`);

    for (const bad of ['Has Spaces', 'UPPER', '_leading-underscore', 'x'.repeat(64)]) {
      const result = await heraldJson('tenants', 'create', bad);
      expect({ bad, status: result.status }).toEqual({ bad, status: 2 });
      expect(result.stderr).toContain('id: lowercase letters, digits');
    }
    expect((await heraldAsync('tenants', 'create')).status).toBe(2);
    expect(
      (await heraldAsync('tenants', 'create', uniq('named'), '--name', 'bad\u0001name')).stderr,
    ).toContain('control characters');
  });

  it('tenants set-quota merges per-channel quotas, and <channel>=default removes one', async () => {
    const id = uniq('quota');
    expect((await heraldJson('tenants', 'create', id)).status).toBe(0);

    const set = await heraldJson('tenants', 'set-quota', id, 'sms=500', 'whatsapp=0');
    expect(set).toMatchObject({ status: 0, body: { tenant: id, dailyQuotas: { sms: 500, whatsapp: 0 } } });
    const merged = await heraldJson('tenants', 'set-quota', id, 'email=20000', 'sms=default');
    expect(merged.body).toEqual({ tenant: id, dailyQuotas: { whatsapp: 0, email: 20000 } });
    const stored = await db.query('SELECT daily_quotas FROM tenants WHERE id = $1', [id]);
    expect(stored.rows[0].daily_quotas).toEqual({ whatsapp: 0, email: 20000 });
    const listed = (await heraldJson('tenants', 'list')).body.find((t: { id: string }) => t.id === id);
    expect(listed.dailyQuotas).toEqual({ whatsapp: 0, email: 20000 });

    const refused: [string[], string][] = [
      [['fax=10'], 'unknown channel "fax"'],
      [['sms=-1'], 'whole number'],
      [['sms=1.5'], 'whole number'],
      [['sms=lots'], 'whole number'],
      [['sms=2147483648'], 'whole number'],
      [['sms'], 'must look like <channel>=<n>'],
      [['sms=1', 'sms=2'], 'sms is given twice'],
    ];
    for (const [pairs, message] of refused) {
      const result = await heraldJson('tenants', 'set-quota', id, ...pairs);
      expect({ pairs, status: result.status }).toEqual({ pairs, status: 2 });
      expect(result.stderr).toContain(message);
    }
    expect((await heraldJson('tenants', 'set-quota', id)).status).toBe(2);
    const unknown = await heraldJson('tenants', 'set-quota', `nobody-${id}`, 'sms=1');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain(`unknown tenant "nobody-${id}"`);
    expect(
      (await db.query('SELECT daily_quotas FROM tenants WHERE id = $1', [id])).rows[0].daily_quotas,
    ).toEqual({
      whatsapp: 0,
      email: 20000,
    });
  });

  it('keys create mints a key with exactly its scopes; list shows it without the key; revoke makes the API answer 401', async () => {
    const created = await heraldJson(
      'keys',
      'create',
      '--tenant',
      stack.tenantId,
      '--scopes',
      'read',
      '--name',
      'reporting',
    );
    expect(created.status).toBe(0);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      key: expect.stringMatching(/^hk_/),
      tenant: stack.tenantId,
      name: 'reporting',
      scopes: ['read'],
    });
    const { id, key } = created.body as { id: string; key: string };

    expect((await as(key, 'GET', '/v1/recipients')).status).toBe(200);
    const write = await as(key, 'PUT', '/v1/recipients/someone', { name: 'Someone' });
    expect(write.status).toBe(403);
    expect(write.body.error.details).toEqual([
      { path: 'scope', message: expect.stringContaining("'manage'") },
    ]);

    const listed = await heraldAsync('keys', 'list', '--tenant', stack.tenantId, '--json');
    expect(listed.stdout).not.toContain(key);
    const info = (JSON.parse(listed.stdout) as Record<string, unknown>[]).find((k) => k.id === id);
    expect(info).toEqual({
      id,
      tenantId: stack.tenantId,
      name: 'reporting',
      prefix: key.slice(0, 11),
      scopes: ['read'],
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String), // the GET above
      revokedAt: null,
    });
    const table = await heraldAsync('keys', 'list', '--tenant', stack.tenantId);
    expect(table.stdout).toMatch(/^ID +NAME +PREFIX +SCOPES +CREATED +LAST USED +REVOKED$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^${id} +reporting +${key.slice(0, 11)} +read +\\S+ +\\S+ +-$`, 'm'),
    );
    expect(table.stdout).not.toContain(key);

    const revoked = await heraldJson('keys', 'revoke', id);
    expect(revoked).toMatchObject({ status: 0, body: { id, revokedAt: expect.any(String) } });
    const refused = await as(key, 'GET', '/v1/recipients');
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('unauthorized');
    // The stack's own key of the same tenant still works.
    expect((await stack.api('GET', '/v1/recipients')).status).toBe(200);
    const after = (await heraldJson('keys', 'list', '--tenant', stack.tenantId)).body.find(
      (k: { id: string }) => k.id === id,
    );
    expect(after.revokedAt).toBe(revoked.body.revokedAt);

    const unknown = await heraldJson('keys', 'revoke', `${id}-nope`);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain(`no key "${id}-nope"`);
  });

  it('keys create --operator mints an operator key, the only kind that opens tenant management', async () => {
    const created = await heraldJson('keys', 'create', '--operator', '--name', 'ops');
    expect(created).toMatchObject({ status: 0, body: { tenant: null, name: 'ops', scopes: ['operator'] } });
    const { id, key } = created.body as { id: string; key: string };
    try {
      const tenants = await as(key, 'GET', '/v1/tenants');
      expect(tenants.status).toBe(200);
      expect(tenants.body.items.map((t: { id: string }) => t.id)).toContain(stack.tenantId);
      // A tenant key with every tenant scope still cannot.
      expect((await stack.api('GET', '/v1/tenants')).status).toBe(403);
      // And an operator key is no tenant's key.
      expect((await as(key, 'GET', '/v1/recipients')).status).toBe(403);

      const listed = await heraldJson('keys', 'list', '--operator');
      expect(listed.body.find((k: { id: string }) => k.id === id)).toMatchObject({
        tenantId: null,
        scopes: ['operator'],
        revokedAt: null,
      });
      expect(
        (await heraldJson('keys', 'list', '--tenant', stack.tenantId)).body.map((k: { id: string }) => k.id),
      ).not.toContain(id);
    } finally {
      expect((await heraldJson('keys', 'revoke', id)).status).toBe(0);
    }
    expect((await as(key, 'GET', '/v1/tenants')).status).toBe(401);
  });

  it('keys create and list refuse bad scopes, a missing or unknown tenant, with exit 2', async () => {
    const before = await db.query('SELECT count(*) FROM api_keys');
    const refused: [string[], string][] = [
      [
        ['--tenant', stack.tenantId, '--scopes', 'send,fly'],
        'unknown scope "fly" (one of send, read, manage, admin, critical)',
      ],
      [['--tenant', stack.tenantId, '--scopes', 'operator'], 'cannot have the scope operator'],
      [['--tenant', stack.tenantId, '--scopes', ','], 'at least one of'],
      [['--tenant', stack.tenantId], 'say --scopes'],
      [['--scopes', 'read'], 'say whose keys with --tenant <id>'],
      [['--tenant', stack.tenantId, '--operator'], 'not both'],
      [['--operator', '--scopes', 'read'], 'leave out --scopes'],
      [
        ['--tenant', `nobody-${stack.tenantId}`, '--scopes', 'read'],
        `unknown tenant "nobody-${stack.tenantId}"`,
      ],
      [['--tenant', stack.tenantId, '--scopes', 'read', '--frobnicate'], 'unknown option --frobnicate'],
    ];
    for (const [args, message] of refused) {
      const result = await heraldJson('keys', 'create', ...args);
      expect({ args, status: result.status, body: result.body }).toEqual({ args, status: 2, body: null });
      expect(result.stderr).toContain(message);
    }
    expect((await db.query('SELECT count(*) FROM api_keys')).rows).toEqual(before.rows);

    const unknown = await heraldJson('keys', 'list', '--tenant', `nobody-${stack.tenantId}`);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown tenant');
    expect((await heraldJson('keys', 'list')).status).toBe(2);
    expect((await heraldJson('keys', 'revoke')).status).toBe(2);
    expect((await heraldJson('keys', 'rotate')).stderr).toContain('unknown command "keys rotate"');
  });
});

describe('shipped groups files', () => {
  it.each(['db/seed/demo.yaml', 'examples/groups.yaml'])(
    '%s is valid and gives every group a member',
    (file) => {
      const parsed = parseGroupsFile(readFileSync(path.join(ROOT, file), 'utf8'), file);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      const listed = new Set(parsed.value.recipients.map((r) => r.externalId));
      expect(parsed.value.groups).toHaveLength(4);
      for (const group of parsed.value.groups) {
        expect(group.members.length).toBeGreaterThan(0);
        expect(group.members.every((id) => listed.has(id))).toBe(true);
      }
    },
  );
});
