import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseGroupsFile } from '../db/import-groups';
import { createPool } from '../db/pool';
import { readTestEnv, ROOT } from './support/env';
import { uniq } from './support/stack';

// The CLI runs as a child process against the database the global setup started and migrated.
// Every test uses its own suffixed ids, since other test files share that database.

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const databaseUrl = readTestEnv().databaseUrl;
const db = createPool(databaseUrl, 2);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'herald-cli-'));

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
    `SELECT external_id FROM group_members WHERE tenant_id = 'default' AND group_key = $1 ORDER BY external_id`,
    [groupKey],
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
    const imported = herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, file));
    expect(imported).toMatchObject({ status: 0, stderr: '' });
    expect(imported.stdout.trim()).toBe(FRESH_IMPORT);

    const listed = herald('groups', 'list', '--json');
    expect(listed.status).toBe(0);
    const groups = JSON.parse(listed.stdout) as { key: string; name: string; memberCount: number }[];
    expect(groups.find((g) => g.key === keys.admins)).toMatchObject({
      name: file.groups[0]!.name,
      memberCount: 2,
    });
    expect(groups.find((g) => g.key === keys.sales)).toMatchObject({ memberCount: 2 });

    const table = herald('groups', 'list');
    expect(table.stdout).toMatch(/^KEY +NAME +MEMBERS$/m);
    expect(table.stdout).toMatch(new RegExp(`^${keys.admins} +System Admins \\S+ +2$`, 'm'));
  });

  it('changes nothing when the same file is imported again', async () => {
    const { keys, file } = helpDesk();
    const fixture = writeFixture(`${keys.admins}.json`, file);
    expect(herald('groups', 'import', fixture).stdout.trim()).toBe(FRESH_IMPORT);
    const before = await db.query('SELECT updated_at FROM groups WHERE key = $1', [keys.admins]);

    const again = herald('groups', 'import', fixture);
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
    const result = herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, file));

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
    expect(herald('groups', 'import', writeFixture(`${first.keys.admins}.yaml`, first.file)).status).toBe(0);
    const second = helpDesk();
    second.file.groups[0]!.name = first.file.groups[0]!.name;
    const result = herald('groups', 'import', writeFixture(`${second.keys.admins}.yaml`, second.file));

    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `groups[0].name: "${first.file.groups[0]!.name}" is already the name of group "${first.keys.admins}"`,
    );
  });

  it('keeps unlisted members unless --prune is given', async () => {
    const { ids, keys, file } = helpDesk();
    expect(herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, file)).status).toBe(0);
    file.groups[0]!.members = [ids.alice];
    const fixture = writeFixture(`${keys.admins}-fewer.yaml`, file);

    expect(herald('groups', 'import', fixture).stdout.trim()).toBe(NOTHING_CHANGED);
    expect(await memberIds(keys.admins)).toEqual([ids.alice, ids.bob]);

    const pruned = herald('groups', 'import', fixture, '--prune');
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
    const result = herald('groups', 'import', writeFixture(`${keys.admins}.yaml`, broken));

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('recipients[0].email: not a valid email address');
    expect(result.stderr).toContain('recipients[0].timezone: not an IANA time zone');
    expect(result.stderr).toContain('groups[0].key: use letters, digits, . _ -');
    expect(result.stderr).toContain('groups[0].colour: unknown field');
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
    const result = herald('groups', 'import', missing);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`herald: cannot read ${missing}: no such file`);
  });

  it('prints the usage for help', () => {
    const result = herald('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('groups import <file> [--prune]');
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
