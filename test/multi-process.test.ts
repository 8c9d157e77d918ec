import { spawn, type ChildProcess } from 'node:child_process';
import type { Pool } from 'pg';
import { createPool } from '../db/pool';
import { createKey, createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { readTestEnv, ROOT } from './support/env';
import { expectError } from './support/expect-error';
import { uniq, type ApiResponse } from './support/stack';

const LIMIT = 30;

interface ApiProcess {
  name: string;
  child: ChildProcess;
  url: string;
}

/**
 * A real API process, as deployed, resolved once it listens. `node --import tsx` rather than the
 * tsx binary, so that the pid we signal is the server itself.
 */
function startApiProcess(name: string): Promise<ApiProcess> {
  const env = readTestEnv();
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      HERALD_SECRET_KEY: TEST_SECRET_KEY,
      HOST: '127.0.0.1',
      PORT: '0',
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.includes('"api listening"'));
      if (line) resolve({ name, child, url: (JSON.parse(line) as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`API ${name} exited early with ${code}: ${stderr}`)));
  });
}

async function stopApiProcess(api: ApiProcess): Promise<void> {
  if (api.child.exitCode !== null || api.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => api.child.once('exit', () => resolve()));
  api.child.kill('SIGTERM');
  const timer = setTimeout(() => api.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function call(api: ApiProcess, method: string, path: string, key: string): Promise<ApiResponse> {
  const response = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** Two API processes on one database: the rate limit and key revocation hold across both. */
describe('two API processes on one database', () => {
  let db: Pool;
  let a: ApiProcess;
  let b: ApiProcess;
  let tenantId: string;

  beforeAll(async () => {
    db = createPool(readTestEnv().databaseUrl, 4);
    tenantId = uniq('multi');
    await createTestTenant(db, tenantId);
    [a, b] = await Promise.all([startApiProcess('A'), startApiProcess('B')]);
  });

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map(stopApiProcess));
    await db?.end();
  });

  const readKey = async () => (await createKey(db, tenantId, ['read'])).key;

  it(`RATE_LIMIT_PER_MINUTE=${LIMIT}: 60 quick requests alternating between the processes → ${LIMIT} accepted`, async () => {
    const key = await readKey();
    // The key's window opens at its first request, so 60 requests within a minute of it accept exactly 30.
    const answers: { api: string; response: ApiResponse }[] = [];
    for (let i = 0; i < 60; i++) {
      const api = i % 2 === 0 ? a : b;
      answers.push({ api: api.name, response: await call(api, 'GET', '/v1/templates', key) });
    }
    const accepted = answers.filter((x) => x.response.status === 200);
    const refused = answers.filter((x) => x.response.status === 429);
    expect({ accepted: accepted.length, refused: refused.length }).toEqual({
      accepted: LIMIT,
      refused: 60 - LIMIT,
    });
    // The first 30 pass, whichever process served them; every later one is refused on both.
    expect(answers.slice(0, LIMIT).every((x) => x.response.status === 200)).toBe(true);
    expect(accepted.filter((x) => x.api === 'A')).toHaveLength(LIMIT / 2);
    expect(refused.filter((x) => x.api === 'B')).toHaveLength((60 - LIMIT) / 2);

    accepted.forEach(({ response }, i) => {
      expect(response.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      expect(response.headers.get('ratelimit-remaining')).toBe(String(LIMIT - 1 - i));
    });
    for (const { response } of refused) {
      expectError(response, 429, 'rate_limited');
      const retryAfter = Number(response.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(response.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      expect(response.headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(response.headers.get('ratelimit-reset'))).toBe(retryAfter);
      expect(response.headers.get('ratelimit-policy')).toBe(`${LIMIT};w=60`);
      expect(response.body.error.details).toEqual([
        { path: 'Authorization', message: expect.stringContaining(`rate limit of ${LIMIT} a minute`) },
      ]);
    }

    // Another key of the same tenant has its own window, on either process.
    const other = await readKey();
    const first = await call(b, 'GET', '/v1/templates', other);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe(String(LIMIT - 1));
    expect((await call(a, 'GET', '/v1/templates', other)).headers.get('ratelimit-remaining')).toBe(
      String(LIMIT - 2),
    );
  });

  it(`holds for concurrent requests too: 60 at once on both processes → exactly ${LIMIT} accepted`, async () => {
    const key = await readKey();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => call(i % 2 === 0 ? a : b, 'GET', '/v1/templates', key)),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60 - LIMIT);
  });

  it('a key revoked through process A is refused with 401 on the very next request to process B', async () => {
    const admin = (await createKey(db, tenantId, ['admin'])).key;
    const victim = await createKey(db, tenantId, ['read']);
    expect((await call(b, 'GET', '/v1/templates', victim.key)).status).toBe(200);
    expect((await call(a, 'GET', '/v1/templates', victim.key)).status).toBe(200);

    const revoked = await call(a, 'DELETE', `/v1/api-keys/${victim.id}`, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));

    const refused = await call(b, 'GET', '/v1/templates', victim.key);
    expectError(refused, 401, 'unauthorized');
    expect(refused.body.error.message).toBe('unknown or revoked API key');
    expectError(await call(a, 'GET', '/v1/templates', victim.key), 401, 'unauthorized');
    // The admin key that revoked it still works on both.
    expect((await call(b, 'GET', '/v1/api-keys', admin)).status).toBe(200);
    // The key's lookup counts the request in the same statement: refused requests counted nothing.
    const window = await db.query<{ count: number }>(
      'SELECT count FROM api_rate_limits WHERE principal = $1',
      [victim.id],
    );
    expect(window.rows).toEqual([{ count: 2 }]);
  });
});
