import { Hono } from 'hono';
import type { AppEnv } from '../deps';

/** A dependency that has not answered by then is not ready (a probe must not hang with it). */
const CHECK_TIMEOUT_MS = 3_000;

/**
 * Whether `check` succeeds in time. The reason goes to the log only: /readyz is public, and an error
 * text would tell anyone the addresses, ports and software behind the API.
 */
async function probe(
  name: string,
  requestId: string,
  check: () => Promise<unknown>,
): Promise<{ ok: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return { ok: true };
  } catch (error) {
    console.error(
      JSON.stringify({
        msg: 'readiness check failed',
        requestId,
        check: name,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    return { ok: false };
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes = new Hono<AppEnv>()
  // The process is up; says nothing about its dependencies.
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  // Ready to take work: the database and Temporal both answer. Only booleans: see `probe`.
  .get('/readyz', async (c) => {
    const { db, temporal } = c.var.deps;
    const [database, temporalCheck] = await Promise.all([
      probe('database', c.var.requestId, () => db.query('SELECT 1')),
      probe('temporal', c.var.requestId, () => temporal.workflowService.getSystemInfo({})),
    ]);
    const ready = database.ok && temporalCheck.ok;
    return c.json(
      { status: ready ? 'ready' : 'not_ready', checks: { database, temporal: temporalCheck } },
      ready ? 200 : 503,
    );
  });
