import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A pino logger writing JSON lines to stdout. The level comes from LOG_LEVEL (any case; `info` when unset or
 * unknown); under Jest it is silent unless LOG_LEVEL is set, so tests keep their output clean.
 */
export function createLogger(name: string, env: NodeJS.ProcessEnv = process.env): Logger {
  const configured = env.LOG_LEVEL?.trim().toLowerCase();
  const known = configured && (configured === 'silent' || configured in pino.levels.values);
  const level = known ? configured : env.JEST_WORKER_ID !== undefined && !configured ? 'silent' : 'info';
  return pino({ name, level });
}
