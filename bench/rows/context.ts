import type { BenchConfig } from '../config';
import type { HeraldProcesses } from '../lib/herald';
import type { BenchStack } from '../lib/stack';

export interface RowContext {
  config: BenchConfig;
  stack: BenchStack;
  /** Started before the first Herald row. */
  herald?: HeraldProcesses;
}

export const log = (message: string) => console.error(`[bench] ${message}`);

/** Mails the sink received while `work` ran must be exactly `expected`, or the row measured nothing real. */
export async function expectMails<T>(
  ctx: RowContext,
  expected: number,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  const before = await ctx.stack.sink.count();
  const result = await work();
  const received = (await ctx.stack.sink.count()) - before;
  if (received !== expected)
    throw new Error(`${what}: the sink received ${received} mails, expected ${expected}`);
  return result;
}
