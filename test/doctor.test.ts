import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import webpush from 'web-push';
import { createPool } from '../db/pool';
import { dropDatabase, ensureDatabase, withDatabase } from '../scripts/lib/databases';
import { ensureSearchAttributes } from '../worker/create-worker';
import { startMailSink, type MailSink } from '../scripts/lib/mail-sink';
import type { Check } from '../scripts/doctor';
import { readTestEnv, ROOT } from './support/env';

// The CLI runs as a child process (asynchronously: the mail sink answers from this process) against the
// database and Temporal the global setup started. Other test files share them, so groups without
// members, tenants without keys and missing schedules may show up as warnings there.

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const testEnv = readTestEnv();
const vapid = webpush.generateVAPIDKeys();
let sink: MailSink;

beforeAll(async () => {
  sink = await startMailSink({ auth: { user: 'doctor', pass: 'right' } });
});

afterAll(async () => {
  await sink.close();
});

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function baseEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: testEnv.databaseUrl,
    TEMPORAL_ADDRESS: testEnv.temporalAddress,
    TEMPORAL_NAMESPACE: testEnv.namespace,
    // The sink speaks plain text on loopback; smtp:// otherwise insists on STARTTLS.
    SMTP_URL: `smtp://doctor:right@127.0.0.1:${sink.smtpPort}?tls=off`,
    MAIL_FROM: 'Herald Doctor <doctor@herald.local>',
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@example.com',
    TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
    TWILIO_AUTH_TOKEN: 'dummy-token',
    TWILIO_FROM: '+15005550006',
    TWILIO_WHATSAPP_FROM: '+15005550006',
    HERALD_SECRET_KEY: randomBytes(32).toString('base64'),
  };
}

function herald(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      ['scripts/herald.ts', ...args],
      { cwd: ROOT, env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

function parse(result: Result): { ok: boolean; checks: Check[] } {
  try {
    return JSON.parse(result.stdout) as { ok: boolean; checks: Check[] };
  } catch {
    throw new Error(`not JSON (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

const find = (checks: Check[], name: string): Check => {
  const check = checks.find((c) => c.name === name);
  if (!check) throw new Error(`no ${name} check in ${JSON.stringify(checks)}`);
  return check;
};

const MUST_PASS = [
  'database',
  'migrations',
  'temporal',
  'search attributes',
  'email (SMTP)',
  'push',
  'templates',
];

test('a healthy stack: nothing broken, exit 0, the core checks all ✓', async () => {
  const result = await herald(['doctor', '--json'], baseEnv());
  const report = parse(result);
  expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  expect(result.status).toBe(0);
  expect(report.ok).toBe(true);
  for (const name of MUST_PASS) expect(find(report.checks, name)).toMatchObject({ status: 'ok' });
  expect(find(report.checks, 'sms').detail).toContain('credentials present');
  expect(find(report.checks, 'webhooks').status).toBe('ok');
}, 90_000);

test('HERALD_SECRET_KEY as 64 hex digits is accepted like base64; a short key still fails', async () => {
  const hex = await herald(['doctor', '--json'], {
    ...baseEnv(),
    HERALD_SECRET_KEY: randomBytes(32).toString('hex'),
  });
  expect(find(parse(hex).checks, 'webhooks')).toMatchObject({ status: 'ok' });
  expect(hex.status).toBe(0);
  const short = await herald(['doctor', '--json'], {
    ...baseEnv(),
    HERALD_SECRET_KEY: randomBytes(16).toString('hex'),
  });
  expect(find(parse(short).checks, 'webhooks').status).toBe('fail');
  expect(short.status).toBe(1);
}, 90_000);

test('the human-readable output has one ✓/⚠/✗ line per check, and no ✗ when healthy', async () => {
  const result = await herald(['doctor'], baseEnv());
  expect(result.status).toBe(0);
  const lines = result.stdout.trim().split('\n');
  for (const line of lines) expect(line).toMatch(/^[✓⚠✗] /);
  expect(lines.some((l) => l.startsWith('✗'))).toBe(false);
  expect(result.stdout).toMatch(/^✓ database {2}postgres:\/\//m);
  expect(result.stdout).not.toContain(`:${new URL(testEnv.databaseUrl).password || '\u0000'}@`);
}, 90_000);

test('a wrong SMTP password: the email line is ✗ with the server answer, exit 1', async () => {
  const env = { ...baseEnv(), SMTP_URL: `smtp://doctor:wrong@127.0.0.1:${sink.smtpPort}?tls=off` };
  const result = await herald(['doctor', '--json'], env);
  const report = parse(result);
  expect(result.status).toBe(1);
  expect(report.ok).toBe(false);
  const email = find(report.checks, 'email (SMTP)');
  expect(email.status).toBe('fail');
  expect(email.detail).toContain('535');
  expect(email.fix).toContain('password');

  const text = await herald(['doctor'], env);
  expect(text.status).toBe(1);
  expect(text.stdout).toMatch(/^✗ email \(SMTP\) {2}.*535.* — fix: /m);
  expect(text.stdout).not.toContain('wrong');
}, 90_000);

test('--test-email delivers a real message through SMTP_URL', async () => {
  sink.clear();
  const result = await herald(['doctor', '--test-email', 'someone@example.com', '--json'], baseEnv());
  const report = parse(result);
  expect(result.status).toBe(0);
  expect(find(report.checks, 'test email')).toMatchObject({ status: 'ok' });
  const [mail] = await sink.waitFor((all) => all.some((m) => m.envelopeTo.includes('someone@example.com')));
  expect(mail?.subject).toBe('Herald doctor test');
  expect(mail?.envelopeTo).toEqual(['someone@example.com']);
}, 90_000);

test('a dead Temporal address: temporal ✗, exit 1, within the time limits', async () => {
  const started = Date.now();
  const result = await herald(['doctor', '--json'], { ...baseEnv(), TEMPORAL_ADDRESS: '127.0.0.1:1' });
  const report = parse(result);
  expect(result.status).toBe(1);
  expect(find(report.checks, 'temporal').status).toBe('fail');
  expect(find(report.checks, 'temporal').detail).toContain('127.0.0.1:1');
  expect(find(report.checks, 'database').status).toBe('ok');
  expect(Date.now() - started).toBeLessThan(45_000);
}, 90_000);

test('doctor rejects unknown options and a stray argument with exit 2', async () => {
  expect((await herald(['doctor', '--nope'], baseEnv())).status).toBe(2);
  expect((await herald(['doctor', 'extra'], baseEnv())).status).toBe(2);
}, 30_000);

test('a healthy dev stack of its own (fresh database with the demo data, schedules synced): every line ✓, exit 0', async () => {
  // Its own database and namespace, so other test files' leftovers (groups without members) cannot show.
  const database = `herald_doctor_${process.pid}`;
  const admin = withDatabase(testEnv.databaseUrl, 'postgres');
  await ensureDatabase(admin, database);
  const namespace = `doctor-${randomBytes(4).toString('hex')}`;
  const connection = await Connection.connect({ address: testEnv.temporalAddress });
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    await ensureSearchAttributes(testEnv.temporalAddress, namespace);
    const env = {
      ...baseEnv(),
      DATABASE_URL: withDatabase(testEnv.databaseUrl, database),
      TEMPORAL_NAMESPACE: namespace,
      HERALD_TASK_QUEUE: `doctor-${namespace}`,
    };
    const steps = [
      ['migrate'],
      ['tenants', 'create', 'demo'],
      ['seed', '--tenant', 'demo'],
      ['schedules', 'sync'],
    ];
    for (const command of steps) {
      const step = await herald(command, env);
      expect({ command, status: step.status, stderr: step.stderr }).toMatchObject({ status: 0 });
    }
    const result = await herald(['doctor', '--json'], env);
    const report = parse(result);
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(result.status).toBe(0);
    expect(find(report.checks, 'schedules').detail).toContain('herald-digest');
    // The migration removed the unused 'default' tenant, so only demo is there, with its key.
    expect(find(report.checks, 'tenants').detail).toBe('1 tenant(s), each with a live API key');
    expect(find(report.checks, 'api keys').detail).toBe('none unused for 90 days');
  } finally {
    await connection.close();
    await dropDatabase(admin, database);
  }
}, 120_000);

test('a tenant without a live key and a key unused for 90 days are ⚠, and do not fail the run', async () => {
  // Its own database, so the shared one's tenants cannot crowd the lists.
  const database = `herald_doctor_keys_${process.pid}`;
  const admin = withDatabase(testEnv.databaseUrl, 'postgres');
  await ensureDatabase(admin, database);
  const env = { ...baseEnv(), DATABASE_URL: withDatabase(testEnv.databaseUrl, database) };
  const db = createPool(env.DATABASE_URL, 1);
  try {
    expect((await herald(['migrate'], env)).status).toBe(0);
    const json = async (args: string[]) => JSON.parse((await herald([...args, '--json'], env)).stdout);
    // `gone`'s only key is revoked; `busy` keeps its first key and gains two old ones.
    const gone = await json(['tenants', 'create', 'gone']);
    expect((await herald(['keys', 'revoke', gone.keyId], env)).status).toBe(0);
    await json(['tenants', 'create', 'busy']);
    const stale = await json(['keys', 'create', '--tenant', 'busy', '--scopes', 'read']);
    const recent = await json(['keys', 'create', '--tenant', 'busy', '--scopes', 'read']);
    const neverUsed = await json(['keys', 'create', '--operator']);
    await db.query(
      `UPDATE api_keys SET created_at = now() - interval '200 days', last_used_at = now() - interval '91 days' WHERE id = $1`,
      [stale.id],
    );
    await db.query(
      `UPDATE api_keys SET created_at = now() - interval '200 days', last_used_at = now() - interval '89 days' WHERE id = $1`,
      [recent.id],
    );
    await db.query(`UPDATE api_keys SET created_at = now() - interval '120 days' WHERE id = $1`, [
      neverUsed.id,
    ]);

    const result = await herald(['doctor', '--json'], env);
    const report = parse(result);
    const tenants = find(report.checks, 'tenants');
    expect(tenants).toMatchObject({ status: 'warn', detail: '1 without a live API key: gone' });
    expect(tenants.fix).toContain('herald keys create --tenant');
    const keys = find(report.checks, 'api keys');
    expect(keys.status).toBe('warn');
    expect(keys.detail).toMatch(/^2 unused for 90 days: /);
    expect(keys.detail).toContain(`${stale.id} (tenant busy, last used `);
    expect(keys.detail).toContain(`${neverUsed.id} (operator, never used, created `);
    expect(keys.detail).not.toContain(recent.id);
    expect(keys.fix).toContain('herald keys revoke');
    // Warnings only: nothing here is broken.
    expect(find(report.checks, 'database').status).toBe('ok');
    expect(result.status).toBe(0);

    const text = await herald(['doctor'], env);
    expect(text.stdout).toMatch(/^⚠ tenants {2}1 without a live API key: gone — fix: /m);
    expect(text.stdout).toMatch(/^⚠ api keys {2}2 unused for 90 days: /m);
  } finally {
    await db.end();
    await dropDatabase(admin, database);
  }
}, 180_000);
