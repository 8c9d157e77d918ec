/**
 * The development stack in one process tree: embedded PostgreSQL, the Temporal dev server with its
 * UI, an SMTP sink with a mail view, migrations, demo data, the worker and the API. Whatever the
 * environment already provides (DATABASE_URL, TEMPORAL_ADDRESS, SMTP_URL) is used instead of started.
 * The demo data lives in tenant `demo`, whose key is written to `$HERALD_DATA_DIR/api-key`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importGroups, parseGroupsFile } from '../db/import-groups';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { createTenant } from '../db/queries/tenants';
import { DEMO_TENANT, ensureDevApiKey } from './lib/dev-api-key';
import { startMailSink } from './lib/mail-sink';
import { startEmbeddedPostgres } from './lib/postgres';
import { startTemporalDevServer } from './lib/temporal-dev-server';
import { WORKER_NODE_FLAGS } from '../worker/memory-limits';
import { DEV_VAPID_SUBJECT, ensureDevVapidKeys } from './lib/vapid';

const ROOT = path.resolve(__dirname, '..');
// HERALD_DATA_DIR lets a second stack (e.g. the dev-command test) run beside the usual one.
const DATA = path.resolve(process.env.HERALD_DATA_DIR ?? path.join(ROOT, '.data'));
const env = process.env;
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);

const stoppers: (() => Promise<unknown> | void)[] = [];
let stopping = false;

function say(message: string): void {
  process.stdout.write(`\x1b[1;34m[herald]\x1b[0m ${message}\n`);
}

async function main(): Promise<void> {
  await mkdir(DATA, { recursive: true });
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  const databaseUrl = env.DATABASE_URL ?? (await startPostgres());
  const temporal = env.TEMPORAL_ADDRESS
    ? { address: env.TEMPORAL_ADDRESS, uiUrl: env.TEMPORAL_UI_URL ?? '(the UI of your Temporal cluster)' }
    : await startTemporal();
  const mail = env.SMTP_URL ? { url: env.SMTP_URL, webUrl: null as string | null } : await startSink();

  // As the printed curl line reads it: relative when the data directory is below here.
  const keyPath = path.join(DATA, 'api-key');
  const relativeKeyPath = path.relative(process.cwd(), keyPath);
  const keyFile = relativeKeyPath && !relativeKeyPath.startsWith('..') ? relativeKeyPath : keyPath;
  const apiKey = await prepareDatabase(databaseUrl, keyFile);

  const apiPort = port('PORT', 3000);
  // Web push: a VAPID pair generated once into the data directory, unless the environment has one.
  const vapid = env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY ? null : await ensureDevVapidKeys(DATA);
  const shared = {
    ...env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_UI_URL: temporal.uiUrl.startsWith('http')
      ? temporal.uiUrl
      : (env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233'),
    SMTP_URL: mail.url,
    HERALD_SECRET_KEY: env.HERALD_SECRET_KEY ?? (await devSecret('secret-key', 32, 'HERALD_SECRET_KEY')),
    PORT: String(apiPort),
    VAPID_PUBLIC_KEY: vapid?.publicKey ?? env.VAPID_PUBLIC_KEY,
    VAPID_PRIVATE_KEY: vapid?.privateKey ?? env.VAPID_PRIVATE_KEY,
    VAPID_SUBJECT: env.VAPID_SUBJECT ?? DEV_VAPID_SUBJECT,
    // Development only: push and webhook URLs may point at services on this machine.
    HERALD_ALLOW_LOOPBACK_URLS: env.HERALD_ALLOW_LOOPBACK_URLS ?? 'true',
    // The demo stack runs the digest, overdue and retention schedules of config/schedules.yaml.
    HERALD_SYNC_SCHEDULES: env.HERALD_SYNC_SCHEDULES ?? 'true',
  };
  await writeFile(
    path.join(DATA, 'dev.env'),
    `DATABASE_URL=${databaseUrl}\nTEMPORAL_ADDRESS=${temporal.address}\n`,
  );
  await startChild('worker', 'worker/main.ts', shared, 'worker started', WORKER_NODE_FLAGS);
  await startChild('api', 'api/main.ts', shared, 'api listening');

  const api = `http://127.0.0.1:${apiPort}`;
  const center = await demoCenterUrl(api, apiKey);
  const lines = [
    '',
    'Herald is up:',
    `  API             ${api}`,
    `  API docs        ${api}/docs   (OpenAPI: ${api}/openapi.json)`,
    `  Temporal UI     ${temporal.uiUrl}`,
    `  Mail view       ${mail.webUrl ?? `(mail goes to ${redact(mail.url)})`}`,
    `  Notification center  ${center}`,
    `  Database        ${redact(databaseUrl)}`,
    `  API key         ${apiKey}   (tenant ${DEMO_TENANT}; also in ${keyFile})`,
    '',
    'Send a test email (then open the mail view):',
    `  curl -s -X POST ${api}/v1/notifications -H 'content-type: application/json' \\`,
    `    -H "Authorization: Bearer $(cat ${keyFile})" \\`,
    `    -d '{"event":"ticket.assigned","to":{"groups":["Technical Admin"]},"data":{"ticketId":"42","title":"Printer on fire"}}'`,
    '',
    'Press Ctrl+C to stop everything.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  say('ready');
}

/** Migrations, the demo tenant and its data, and the demo key (answered, and kept in `keyFile`). */
async function prepareDatabase(databaseUrl: string, keyFile: string): Promise<string> {
  const pool = createPool(databaseUrl, 2);
  try {
    const { applied } = await migrate(pool);
    say(`database migrated${applied.length ? ` (${applied.join(', ')})` : ' (up to date)'}`);
    await seedDemoData(pool);
    const { key, reused } = await ensureDevApiKey(pool, DATA, DEMO_TENANT);
    say(
      `${reused ? 'reusing' : 'created'} the ${DEMO_TENANT} tenant's API key (every tenant scope plus critical), in ${keyFile}`,
    );
    return key;
  } finally {
    await pool.end();
  }
}

async function startPostgres(): Promise<string> {
  say(`starting embedded PostgreSQL (data in ${path.relative(ROOT, path.join(DATA, 'postgres')) || DATA})…`);
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(DATA, 'postgres'),
    port: port('HERALD_PG_PORT', 5433),
    persistent: true,
    // The embedded server's password: HERALD_PG_PASSWORD, else one generated for this data directory.
    password:
      env.HERALD_PG_PASSWORD ?? (await devSecret('pg-password', 24, 'the embedded PostgreSQL password')),
  });
  stoppers.push(() => pg.stop());
  return pg.url;
}

async function startTemporal(): Promise<{ address: string; uiUrl: string }> {
  const cli = env.TEMPORAL_CLI;
  if (!cli)
    throw new Error(
      'no Temporal CLI: run via `npm run dev` (it builds one) or set TEMPORAL_CLI or TEMPORAL_ADDRESS',
    );
  say(
    `starting the Temporal dev server (history in ${path.relative(ROOT, path.join(DATA, 'temporal.db'))})…`,
  );
  const server = await startTemporalDevServer({
    cli,
    port: port('TEMPORAL_PORT', 7233),
    uiPort: port('TEMPORAL_UI_PORT', 8233),
    dbFile: path.join(DATA, 'temporal.db'),
    logFile: createWriteStream(path.join(DATA, 'temporal.log'), { flags: 'a' }),
  });
  stoppers.push(() => server.stop());
  return { address: server.address, uiUrl: server.uiUrl };
}

async function startSink(): Promise<{ url: string; webUrl: string | null }> {
  const sink = await startMailSink({
    smtpPort: port('SMTP_SINK_PORT', 1025),
    httpPort: port('MAIL_VIEW_PORT', 8025),
  });
  stoppers.push(() => sink.close());
  say(`SMTP sink on ${sink.url}`);
  // The sink speaks plain text on loopback; smtp:// otherwise insists on STARTTLS.
  return { url: `${sink.url}?tls=off`, webUrl: sink.webUrl };
}

/** A secret generated once into the data directory (mode 0600) and reused on every later start. */
async function devSecret(name: string, bytes: number, label: string): Promise<string> {
  const file = path.join(DATA, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = randomBytes(bytes).toString(bytes === 32 ? 'base64' : 'hex');
  await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  say(`generated ${label} into ${path.relative(ROOT, file) || file}`);
  return value;
}

/** The notification center of a demo person, opened by a fresh end-user token (POST …/tokens). */
async function demoCenterUrl(api: string, apiKey: string): Promise<string> {
  const who = 'tendai.moyo';
  try {
    const response = await fetch(`${api}/v1/recipients/${who}/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}` },
    });
    if (!response.ok) return `(none: POST /v1/recipients/${who}/tokens answered ${response.status})`;
    const { centerUrl } = (await response.json()) as { centerUrl: string };
    return `${centerUrl}   (${who}; the token expires)`;
  } catch (error) {
    return `(none: ${(error as Error).message})`;
  }
}

async function seedDemoData(pool: ReturnType<typeof createPool>): Promise<void> {
  const file = path.join(ROOT, 'db', 'seed', 'demo.yaml');
  const parsed = parseGroupsFile(await readFile(file, 'utf8'), file);
  if (!parsed.ok)
    throw new Error(
      `demo data is invalid: ${parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  if (await createTenant(pool, DEMO_TENANT, 'Demo')) say(`created tenant ${DEMO_TENANT}`);
  const counts = await importGroups(pool, DEMO_TENANT, parsed.value, { prune: false });
  say(
    `demo data in tenant ${DEMO_TENANT}: ${counts.groups.created} groups and ${counts.recipients.created} recipients created`,
  );
}

/** Runs a TypeScript entry point as its own process, prefixing its output; resolves when it says `readyText`. */
function startChild(
  name: string,
  entry: string,
  childEnv: NodeJS.ProcessEnv,
  readyText: string,
  nodeFlags: readonly string[] = [],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stoppers.unshift(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((line) => `[${name}] ${line}\n`)
      .join('');
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(prefix(chunk));
      if (chunk.toString().includes(readyText)) resolve(child);
    });
    child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
    child.once('exit', (code) => {
      if (!stopping) {
        say(`${name} exited with code ${code}; stopping`);
        reject(new Error(`${name} exited with code ${code}`));
        void shutdown(1);
      }
    });
  });
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  for (const stop of stoppers) await Promise.resolve(stop()).catch(() => undefined);
  process.exit(code);
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');

main().catch((error: unknown) => {
  console.error(`[herald] ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
