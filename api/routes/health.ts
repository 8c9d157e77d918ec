import { Hono } from 'hono';
import type { AppEnv } from '../deps';

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await check();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export const healthRoutes = new Hono<AppEnv>()
  // The process is up; says nothing about its dependencies.
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  // Ready to take work: the database and Temporal both answer.
  .get('/readyz', async (c) => {
    const { db, temporal } = c.var.deps;
    const [database, temporalCheck] = await Promise.all([
      probe(() => db.query('SELECT 1')),
      probe(() => temporal.workflowService.getSystemInfo({})),
    ]);
    const ready = database.ok && temporalCheck.ok;
    return c.json(
      { status: ready ? 'ready' : 'not_ready', checks: { database, temporal: temporalCheck } },
      ready ? 200 : 503,
    );
  });
