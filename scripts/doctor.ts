/**
 * `herald doctor`: what works, what warns, what is broken, each with the fix. Every check has its own
 * time limit, so a dead service is reported as broken instead of hanging the command.
 */
import { Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import webpush from 'web-push';
import { createSmtpTransport } from '../activities/channels/email';
import { isValidSecretKey } from '../common/secret-box';
import { ALL_SEARCH_ATTRIBUTES } from '../common/temporal';
import { pendingMigrations } from '../db/migrate';
import { createPool } from '../db/pool';
import { listStaleApiKeys } from '../db/queries/api-keys';
import { listGroups } from '../db/queries/groups';
import { listTenants } from '../db/queries/tenants';
import { TemplateRegistry, type RenderContext } from '../templates/registry';
import { tenantSmtpChecks } from './lib/doctor-smtp';
import { routingChecks } from './lib/doctor-routing';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  testEmail?: string;
  /** Per-check time limit in milliseconds (default 5000). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** A live key nobody used for this long is likely forgotten, and a leaked one nobody would notice. */
export const STALE_KEY_DAYS = 90;
const SYMBOLS: Record<Check['status'], string> = { ok: '✓', warn: '⚠', fail: '✗' };

/** 1 when anything is broken; warnings do not fail. */
export const doctorExitCode = (checks: Check[]): 0 | 1 => (checks.some((c) => c.status === 'fail') ? 1 : 0);

/** One line per check: `✓ database  postgres://herald:***@127.0.0.1:5433/herald`. */
export function formatChecks(checks: Check[]): string {
  return checks
    .map((c) => `${SYMBOLS[c.status]} ${c.name}  ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ''}`)
    .join('\n');
}

const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string, fix?: string): Check => ({ name, status: 'warn', detail, fix });
const fail = (name: string, detail: string, fix?: string): Check => ({ name, status: 'fail', detail, fix });

class TimeoutError extends Error {}

/** Rejects with a TimeoutError after `ms`; the work itself keeps running and cleans up after itself. */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line: the message, or its cause's, or every attempt's for an AggregateError. */
function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return error.errors.map(describeError).join('; ');
  if (!(error instanceof Error)) return String(error);
  const message = error.message.split('\n')[0] || error.name;
  return error.cause === undefined || error.cause === error
    ? message
    : `${message}: ${describeError(error.cause)}`;
}

/** The URL with its password masked: it must not reach a terminal or a CI log. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable URL)';
  }
}

/** The SMTP server's own answer when there is one (e.g. `535 Authentication credentials invalid`). */
function smtpAnswer(error: unknown): string {
  const e = (error ?? {}) as { response?: unknown; code?: unknown };
  if (typeof e.response === 'string' && e.response.trim()) return e.response.trim();
  const message = describeError(error);
  return typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

export async function runDoctor(env: NodeJS.ProcessEnv, options: DoctorOptions = {}): Promise<Check[]> {
  const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const checks: Check[] = [];

  // Database, then what needs it (migrations, groups).
  const databaseUrl = env.DATABASE_URL;
  let pool: Pool | undefined;
  if (!databaseUrl) {
    checks.push(
      fail(
        'database',
        'DATABASE_URL is not set',
        'start the dev stack with npm run dev, or export DATABASE_URL',
      ),
    );
  } else {
    pool = createPool(databaseUrl, 2);
    const db = pool;
    const dbOk = await timed(
      checks,
      'database',
      ms,
      async () => {
        await db.query('SELECT 1');
        return ok('database', maskUrl(databaseUrl));
      },
      'check that Postgres runs and DATABASE_URL is right',
    );
    if (dbOk) {
      await timed(
        checks,
        'migrations',
        ms,
        async () => {
          const pending = await pendingMigrations(db);
          return pending.length === 0
            ? ok('migrations', 'all applied')
            : fail('migrations', `${pending.length} pending: ${pending.join(', ')}`, 'run herald migrate');
        },
        'run herald migrate',
      );
    } else {
      checks.push(fail('migrations', 'not checked: no database', 'fix the database first'));
    }
  }

  try {
    checks.push(...(await temporalChecks(env, ms)));
    checks.push(await emailCheck(env, ms));
    checks.push(pushCheck(env));
    checks.push(...twilioChecks(env));
    checks.push(webhookCheck(env));
    if (pool && checks.find((c) => c.name === 'database')?.status === 'ok') {
      const db = pool;
      await timed(checks, 'tenants', ms, () => tenantsCheck(db), 'check the database');
      await timed(checks, 'api keys', ms, () => staleKeysCheck(db), 'check the database');
      await timed(checks, 'groups', ms, () => groupsCheck(db), 'check the database');
      checks.push(...(await routingChecks(db, ms)));
      checks.push(...(await tenantSmtpChecks(db, env, ms)));
    }
    await timed(checks, 'templates', Math.max(ms, 30_000), templatesCheck, 'fix the templates listed');
    if (options.testEmail !== undefined) checks.push(await testEmailCheck(env, options.testEmail, ms));
  } finally {
    await pool?.end().catch(() => undefined);
  }
  return checks;
}

/** Runs one check under the time limit; a throw or a timeout becomes ✗. Returns whether it passed. */
async function timed(
  checks: Check[],
  name: string,
  ms: number,
  work: () => Promise<Check>,
  fix: string,
): Promise<boolean> {
  try {
    const check = await withTimeout(work(), ms, name);
    checks.push(check);
    return check.status !== 'fail';
  } catch (error) {
    checks.push(fail(name, describeError(error), fix));
    return false;
  }
}

async function temporalChecks(env: NodeJS.ProcessEnv, ms: number): Promise<Check[]> {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const connecting = Connection.connect({ address, connectTimeout: ms });
  let connection: Connection;
  try {
    connection = await withTimeout(connecting, ms + 1_000, 'temporal');
  } catch (error) {
    // Close it should it connect after all, so the process can end.
    connecting.then((c) => c.close()).catch(() => undefined);
    const fix = 'start Temporal (npm run dev) or set TEMPORAL_ADDRESS';
    return [
      fail('temporal', `cannot reach ${address}: ${describeError(error)}`, fix),
      fail('search attributes', 'not checked: Temporal is unreachable', fix),
      warn('schedules', 'not checked: Temporal is unreachable'),
    ];
  }
  const checks: Check[] = [];
  try {
    await timed(
      checks,
      'temporal',
      ms,
      async () => {
        await connection.workflowService.describeNamespace({ namespace });
        return ok('temporal', `${address}, namespace ${namespace}`);
      },
      `create the namespace: temporal operator namespace create ${namespace}`,
    );
    if (checks[0]?.status !== 'ok') {
      checks.push(fail('search attributes', `not checked: no namespace ${namespace}`, 'fix Temporal first'));
      checks.push(warn('schedules', `not checked: no namespace ${namespace}`));
      return checks;
    }
    await timed(
      checks,
      'search attributes',
      ms,
      async () => {
        const existing = await connection.operatorService.listSearchAttributes({ namespace });
        const known = new Set(Object.keys(existing.customAttributes ?? {}));
        const missing = ALL_SEARCH_ATTRIBUTES.map((k) => k.name).filter((n) => !known.has(n));
        return missing.length === 0
          ? ok('search attributes', ALL_SEARCH_ATTRIBUTES.map((k) => k.name).join(', '))
          : fail(
              'search attributes',
              `missing: ${missing.join(', ')}`,
              `start the worker once (it registers them) or: ${missing
                .map(
                  (n) =>
                    `temporal operator search-attribute create --namespace ${namespace} --name ${n} --type Keyword`,
                )
                .join('; ')}`,
            );
      },
      'check Temporal',
    );
    await timed(
      checks,
      'schedules',
      ms,
      async () => {
        const ids: string[] = [];
        let nextPageToken: Uint8Array | undefined;
        do {
          const page = await connection.workflowService.listSchedules({
            namespace,
            maximumPageSize: 100,
            nextPageToken,
          });
          for (const s of page.schedules ?? [])
            if (s.scheduleId?.startsWith('herald-')) ids.push(s.scheduleId);
          nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
        } while (nextPageToken);
        return ids.length > 0
          ? ok('schedules', `${ids.length} Herald schedule(s): ${ids.slice(0, 10).join(', ')}`)
          : warn('schedules', 'no Herald schedules', 'run herald schedules sync');
      },
      'check Temporal',
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
  return checks;
}

async function emailCheck(env: NodeJS.ProcessEnv, ms: number): Promise<Check> {
  const name = 'email (SMTP)';
  if (!env.SMTP_URL)
    return warn(name, 'email off: SMTP_URL is not set', 'set SMTP_URL=smtp://user:pass@host:port');
  const url = env.SMTP_URL;
  let transport: ReturnType<typeof createSmtpTransport>;
  try {
    transport = createSmtpTransport({ url, maxConnections: 1 });
  } catch (error) {
    return fail(name, describeError(error), 'SMTP_URL must look like smtp://user:pass@host:port');
  }
  try {
    await withTimeout(transport.verify(), ms, 'SMTP');
    return ok(name, `login accepted by ${maskUrl(url)}`);
  } catch (error) {
    const e = error as { code?: unknown; responseCode?: unknown };
    const auth = e.code === 'EAUTH' || e.responseCode === 535;
    return fail(
      name,
      smtpAnswer(error),
      auth ? 'check the user and password in SMTP_URL' : `check that the SMTP server at ${maskUrl(url)} runs`,
    );
  } finally {
    transport.close();
  }
}

async function testEmailCheck(env: NodeJS.ProcessEnv, to: string, ms: number): Promise<Check> {
  const name = 'test email';
  if (!env.SMTP_URL) return fail(name, 'cannot send: SMTP_URL is not set', 'set SMTP_URL');
  let transport: ReturnType<typeof createSmtpTransport>;
  try {
    transport = createSmtpTransport({ url: env.SMTP_URL, maxConnections: 1 });
  } catch (error) {
    return fail(name, describeError(error), 'fix SMTP_URL');
  }
  try {
    const info = (await withTimeout(
      transport.sendMail({
        from: env.MAIL_FROM ?? 'Herald <noreply@herald.local>',
        to,
        subject: 'Herald doctor test',
        text: `This message was sent by herald doctor --test-email at ${new Date().toISOString()}.\nIf you can read it, Herald's email settings work.\n`,
      }),
      Math.max(ms, 15_000),
      'SMTP',
    )) as { response?: string };
    return ok(name, `sent to ${to}: ${info.response ?? 'accepted'}`);
  } catch (error) {
    return fail(name, smtpAnswer(error), 'see the email (SMTP) line');
  } finally {
    transport.close();
  }
}

const VAPID = ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'];

function pushCheck(env: NodeJS.ProcessEnv): Check {
  const name = 'push';
  const missing = VAPID.filter((k) => !env[k]);
  if (missing.length === VAPID.length)
    return warn(
      name,
      'push off: VAPID keys are not set',
      'npx web-push generate-vapid-keys, then set VAPID_*',
    );
  if (missing.length > 0)
    return fail(name, `missing ${missing.join(', ')}`, 'set all three VAPID_* settings');
  try {
    webpush.setVapidDetails(env.VAPID_SUBJECT!, env.VAPID_PUBLIC_KEY!, env.VAPID_PRIVATE_KEY!);
    return ok(name, `VAPID keys valid (subject ${env.VAPID_SUBJECT})`);
  } catch (error) {
    return fail(name, describeError(error), 'npx web-push generate-vapid-keys makes a valid pair');
  }
}

function twilioChecks(env: NodeJS.ProcessEnv): Check[] {
  const channels = [
    { name: 'sms', settings: ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'] },
    { name: 'whatsapp', settings: ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_WHATSAPP_FROM'] },
  ];
  return channels.map(({ name, settings }) => {
    const missing = settings.filter((k) => !env[k]);
    if (missing.length > 0)
      return warn(name, `${name} off: ${missing.join(', ')} not set`, `set ${missing.join(', ')}`);
    if (!env.TWILIO_ACCOUNT_SID!.startsWith('AC'))
      return fail(
        name,
        'TWILIO_ACCOUNT_SID must start with AC',
        'copy the Account SID from the Twilio console',
      );
    return ok(name, 'credentials present (not verified against Twilio: no network here)');
  });
}

function webhookCheck(env: NodeJS.ProcessEnv): Check {
  if (!env.HERALD_SECRET_KEY)
    return warn(
      'webhooks',
      'webhooks off: HERALD_SECRET_KEY is not set',
      'set HERALD_SECRET_KEY=$(openssl rand -base64 32)',
    );
  // The same rule as the API and the worker: 32 bytes, as 64 hex digits or as base64.
  if (!isValidSecretKey(env.HERALD_SECRET_KEY))
    return fail(
      'webhooks',
      'HERALD_SECRET_KEY must be 32 bytes, written as 64 hex digits or as base64',
      'openssl rand -base64 32',
    );
  return ok('webhooks', 'secret key set');
}

/** At most ten names, then how many more. */
function someOf(names: string[]): string {
  return names.slice(0, 10).join(', ') + (names.length > 10 ? `, … (${names.length - 10} more)` : '');
}

/** A tenant without a live key cannot be reached through the API at all. */
async function tenantsCheck(pool: Pool): Promise<Check> {
  const tenants = await listTenants(pool);
  if (tenants.length === 0)
    return warn('tenants', 'no tenants yet', 'herald tenants create <id> (npm run dev creates demo)');
  const keyless = tenants.filter((t) => t.activeKeys === 0).map((t) => t.id);
  if (keyless.length === 0) return ok('tenants', `${tenants.length} tenant(s), each with a live API key`);
  return warn(
    'tenants',
    `${keyless.length} without a live API key: ${someOf(keyless)}`,
    'herald keys create --tenant <id> --scopes send,read',
  );
}

async function staleKeysCheck(pool: Pool): Promise<Check> {
  const stale = await listStaleApiKeys(pool, STALE_KEY_DAYS);
  if (stale.length === 0) return ok('api keys', `none unused for ${STALE_KEY_DAYS} days`);
  const described = stale.map(
    (k) =>
      `${k.id} (${k.tenantId === null ? 'operator' : `tenant ${k.tenantId}`}, ${
        k.lastUsedAt
          ? `last used ${k.lastUsedAt.slice(0, 10)}`
          : `never used, created ${k.createdAt.slice(0, 10)}`
      })`,
  );
  return warn(
    'api keys',
    `${stale.length} unused for ${STALE_KEY_DAYS} days: ${someOf(described)}`,
    'herald keys revoke <id> for each key nobody needs',
  );
}

/** Every tenant's groups; an empty one notifies nobody. */
async function groupsCheck(pool: Pool): Promise<Check> {
  let count = 0;
  const empty: string[] = [];
  for (const tenant of await listTenants(pool)) {
    const groups = await listGroups(pool, tenant.id);
    count += groups.length;
    for (const g of groups) if (g.memberCount === 0) empty.push(`${tenant.id}/${g.key}`);
  }
  if (empty.length === 0) return ok('groups', `${count} group(s), all with members`);
  return warn(
    'groups',
    `${empty.length} without members: ${someOf(empty)}`,
    'add members with herald groups import <file> --tenant <id>',
  );
}

async function templatesCheck(): Promise<Check> {
  const registry = await TemplateRegistry.load();
  const failures: string[] = [];
  let rendered = 0;
  for (const event of registry.events()) {
    const manifest = registry.manifest(event)!;
    const context: RenderContext = {
      data: manifest.sample,
      recipient: { name: 'Doctor Sample', email: 'sample@example.com', externalId: 'doctor-sample' },
      brand: { name: 'Herald' },
      notification: { id: 'doctor-sample', event, priority: manifest.defaultPriority },
      unsubscribeUrl: 'https://herald.example.com/unsubscribe/sample',
      ackUrl: 'https://herald.example.com/ack/sample',
    };
    const variants: [string, () => unknown][] = [['email', () => registry.renderEmail(event, context)]];
    if (registry.supports(event, 'sms')) variants.push(['sms', () => registry.renderSms(event, context)]);
    if (registry.supports(event, 'push')) variants.push(['push', () => registry.renderPush(event, context)]);
    if (registry.supports(event, 'inapp'))
      variants.push(['inapp', () => registry.renderInapp(event, context)]);
    for (const [variant, render] of variants) {
      try {
        render();
        rendered++;
      } catch (error) {
        failures.push(`${event}/${variant}: ${describeError(error).replace(`template ${event}: `, '')}`);
      }
    }
  }
  return failures.length === 0
    ? ok(
        'templates',
        `${registry.events().length} template(s), ${rendered} variant(s) render with their samples`,
      )
    : fail('templates', failures.join('; '), 'fix the templates (or their manifest samples) listed');
}
