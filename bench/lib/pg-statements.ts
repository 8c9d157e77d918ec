/**
 * `--pg-statements`: where PostgreSQL's time goes, statement by statement. pg_stat_statements with
 * planning tracked (planning is most of the cost of Herald's small statements), reset before each
 * Herald row and read after it, per unit of the row (a notification, a mail, a request).
 */
import type { Pool } from 'pg';

export const PG_STATEMENTS_SETTINGS: Record<string, string> = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track_planning': 'on',
  // Statements run by triggers and functions too, each on its own line.
  'pg_stat_statements.track': 'all',
};

export interface StatementCost {
  /** Calls per unit. */
  calls: number;
  /** Milliseconds per unit, planning and running (the server's wall clock). */
  planMs: number;
  execMs: number;
  rowsPerCall: number;
  query: string;
}

export async function resetStatements(db: Pool): Promise<void> {
  await db.query('SELECT pg_stat_statements_reset()');
}

/** The statements since the last reset, costliest first (planning + execution), per unit. */
export async function statementCosts(db: Pool, units: number, limit = 40): Promise<StatementCost[]> {
  const { rows } = await db.query<{
    calls: string;
    plan: number;
    exec: number;
    rows: string;
    query: string;
  }>(
    `SELECT calls, total_plan_time AS plan, total_exec_time AS exec, rows, query
       FROM pg_stat_statements
      WHERE query NOT LIKE '%pg_stat_statements%'
      ORDER BY total_plan_time + total_exec_time DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    calls: Number(r.calls) / units,
    planMs: r.plan / units,
    execMs: r.exec / units,
    rowsPerCall: Number(r.calls) > 0 ? Number(r.rows) / Number(r.calls) : 0,
    query: r.query.replace(/\s+/g, ' ').trim(),
  }));
}

/** A few lines for the log: the totals per unit, then one line a statement. */
export function describeStatements(row: string, unit: string, costs: StatementCost[]): string {
  const sum = (pick: (c: StatementCost) => number) => costs.reduce((n, c) => n + pick(c), 0);
  const lines = [
    `${row}: PostgreSQL per ${unit} (top ${costs.length} statements): ${sum((c) => c.calls).toFixed(1)} calls, ` +
      `planning ${sum((c) => c.planMs).toFixed(2)} ms, execution ${sum((c) => c.execMs).toFixed(2)} ms`,
    ...costs.map(
      (c) =>
        `  ${c.calls.toFixed(2).padStart(6)} calls  plan ${c.planMs.toFixed(3).padStart(7)}  exec ${c.execMs
          .toFixed(3)
          .padStart(7)} ms  ${c.rowsPerCall.toFixed(1).padStart(6)} rows/call  ${c.query.slice(0, 110)}`,
    ),
  ];
  return lines.join('\n');
}
