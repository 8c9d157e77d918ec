import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from '../scripts/lib/ports';
import { ROOT } from './support/env';

/** The README's first curl example that posts a notification, as a new user would paste it. */
async function readmeCurlExample(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const example = blocks.find((b) => b.includes('curl') && b.includes('/v1/notifications'));
  if (!example) throw new Error('README has no curl example posting to /v1/notifications');
  return example;
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
    expect((await fetch(`${api}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
    expect(await (await fetch(`${api}/docs`)).text()).toContain('/v1/notifications');

    const example = (await readmeCurlExample()).replaceAll('http://127.0.0.1:3000', api);
    const curl = spawn('bash', ['-c', example], { stdio: ['ignore', 'pipe', 'pipe'] });
    let answer = '';
    curl.stdout!.on('data', (c) => (answer += c));
    expect(await new Promise((r) => curl.once('exit', r))).toBe(0);
    const created = JSON.parse(answer);
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
