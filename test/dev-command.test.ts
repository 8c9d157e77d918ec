import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { hashApiKey } from '../common/api-keys';
import { createPool } from '../db/pool';
import { findActiveApiKey, revokeApiKey } from '../db/queries/api-keys';
import { createTenant } from '../db/queries/tenants';
import { ensureDevApiKey } from '../scripts/lib/dev-api-key';
import { freePort } from '../scripts/lib/ports';
import { readTestEnv, ROOT } from './support/env';
import { uniq } from './support/stack';

/** The README's first curl example that posts a notification, as a new user would paste it. */
async function readmeCurlExample(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const example = blocks.find((b) => b.includes('curl') && b.includes('/v1/notifications'));
  if (!example) throw new Error('README has no curl example posting to /v1/notifications');
  return example;
}

/** Runs a shell snippet; answers its exit code and what it printed. */
async function runBash(script: string): Promise<{ code: unknown; stdout: string }> {
  const child = spawn('bash', ['-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (c) => (stdout += c));
  const code = await new Promise((r) => child.once('exit', r));
  return { code, stdout };
}

async function waitForLine(
  output: () => string,
  text: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text)) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode}:\n${output()}`);
    if (Date.now() > deadline)
      throw new Error(`npm run dev did not print "${text}" within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('npm run dev', () => {
  let child: ChildProcess | undefined;
  let dataDir: string;
  let output = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'herald-dev-'));
    // As root, embedded Postgres runs as a `postgres` user, who must be able to enter the directory.
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(-child.pid, 'SIGINT'); // what Ctrl+C sends to the terminal's process group
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('comes up from nothing, and the README curl example makes a mail visible in the mail view', async () => {
    // Its own ports and data directory, with none of the test run's services given: it starts everything.
    const ports = {
      api: await freePort(),
      temporal: await freePort(),
      ui: await freePort(),
      smtp: await freePort(),
      view: await freePort(),
      pg: await freePort(),
    };
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HERALD_DATA_DIR: dataDir,
      PORT: String(ports.api),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      SMTP_SINK_PORT: String(ports.smtp),
      MAIL_VIEW_PORT: String(ports.view),
      HERALD_PG_PORT: String(ports.pg),
    };
    for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'SMTP_URL', 'TEMPORAL_UI_URL']) delete env[name];
    child = spawn('npm', ['run', 'dev'], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));

    await waitForLine(() => output, 'Herald is up', child, 240_000);
    const api = `http://127.0.0.1:${ports.api}`;
    const mailView = `http://127.0.0.1:${ports.view}`;
    expect(output).toContain(`API             ${api}`);
    expect(output).toContain(`Temporal UI     http://127.0.0.1:${ports.ui}`);
    expect(output).toContain(`Mail view       ${mailView}`);
    const center = /Notification center {2}(\S+)/.exec(output)?.[1];
    expect(center).toMatch(new RegExp(`^${api}/app#token=heu_`));
    expect((await fetch(`${api}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
    // The reference renders the document in the browser (test/api-reference.test.ts): here, that both are served.
    expect(await (await fetch(`${api}/docs`)).text()).toContain('/docs/scalar.js');
    expect(await (await fetch(`${api}/openapi.json`)).text()).toContain('/v1/notifications');
    // The dev command built the notification center and the embeddable inbox.
    expect((await fetch(`${api}/app`)).status).toBe(200);
    expect((await fetch(`${api}/embed/herald-inbox.js`)).status).toBe(200);

    // The README's key file is .data/api-key; this stack's data directory is its own.
    const keyFile = path.join(dataDir, 'api-key');
    const readme = await readmeCurlExample();
    expect(readme).toContain('-H "Authorization: Bearer $(cat .data/api-key)"');
    const example = readme.replaceAll('http://127.0.0.1:3000', api).replaceAll('.data/api-key', keyFile);
    expect(((await stat(keyFile)).mode & 0o777).toString(8)).toBe('600');
    const key = (await readFile(keyFile, 'utf8')).trim();
    expect(output).toContain(key);

    // Without the header the same request is refused, and sends nothing.
    const anonymous = await runBash(
      example
        .split('\n')
        .filter((line) => !line.includes('Authorization'))
        .join('\n'),
    );
    expect(anonymous.code).toBe(0);
    expect(JSON.parse(anonymous.stdout).error.code).toBe('unauthorized');
    const bare = await fetch(`${api}/v1/notifications`, { method: 'POST' });
    expect(bare.status).toBe(401);

    const pasted = await runBash(example);
    expect(pasted.code).toBe(0);
    const created = JSON.parse(pasted.stdout);
    expect(created.workflowId).toBe(`notification-${created.id}`);

    const demo = YAML.parse(await readFile(path.join(ROOT, 'db', 'seed', 'demo.yaml'), 'utf8'));
    const technicalAdmins: string[] = demo.groups.find(
      (g: { name: string }) => g.name === 'Technical Admin',
    ).members;
    expect(technicalAdmins.length).toBeGreaterThan(0);
    const deadline = Date.now() + 60_000;
    let mails: { subject: string; to: string[] }[] = [];
    while (Date.now() < deadline) {
      mails = (await (await fetch(`${mailView}/api/messages`)).json()) as typeof mails;
      if (mails.length >= technicalAdmins.length) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // One mail per member of the demo group "Technical Admin".
    expect(mails.map((m) => m.subject)).toEqual(
      technicalAdmins.map(() => '[#42] Assigned to you: Printer on fire'),
    );
    expect(await (await fetch(mailView)).text()).toContain('[#42] Assigned to you: Printer on fire');
  });
});

describe('the dev API key', () => {
  const db = createPool(readTestEnv().databaseUrl, 2);
  let dir: string;
  const tenant = uniq('dev');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-dev-key-'));
    await createTenant(db, tenant, 'Dev');
  });
  afterAll(async () => {
    await db.end();
    await rm(dir, { recursive: true, force: true });
  });

  const mode = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);

  it('is minted once into <data dir>/api-key (0600) and reused while it is valid', async () => {
    const file = path.join(dir, 'api-key');
    const first = await ensureDevApiKey(db, dir, tenant);
    expect(first.reused).toBe(false);
    expect((await readFile(file, 'utf8')).trim()).toBe(first.key);
    expect(await mode(file)).toBe('600');
    expect(await findActiveApiKey(db, hashApiKey(first.key))).toMatchObject({
      tenantId: tenant,
      scopes: ['send', 'read', 'manage', 'admin', 'critical'],
    });

    await chmod(file, 0o644);
    const again = await ensureDevApiKey(db, dir, tenant);
    expect(again).toEqual({ key: first.key, reused: true });
    expect(await mode(file)).toBe('600');

    // Revoked: a new one replaces it in the file.
    const found = await findActiveApiKey(db, hashApiKey(first.key));
    await revokeApiKey(db, found!.id);
    const replaced = await ensureDevApiKey(db, dir, tenant);
    expect(replaced.reused).toBe(false);
    expect(replaced.key).not.toBe(first.key);
    expect((await readFile(file, 'utf8')).trim()).toBe(replaced.key);
    expect(await mode(file)).toBe('600');
  });

  it("replaces a file holding garbage or another tenant's key", async () => {
    const file = path.join(dir, 'api-key');
    await writeFile(file, 'not a key\n');
    const fromGarbage = await ensureDevApiKey(db, dir, tenant);
    expect(fromGarbage.reused).toBe(false);

    const other = uniq('dev-other');
    await createTenant(db, other, 'Other');
    const otherKey = await ensureDevApiKey(db, dir, other);
    expect(otherKey.reused).toBe(false);
    const back = await ensureDevApiKey(db, dir, tenant);
    expect(back.reused).toBe(false);
    expect(back.key).not.toBe(fromGarbage.key); // the file held the other tenant's key meanwhile
  });
});
