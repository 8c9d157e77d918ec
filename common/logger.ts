import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A pino logger writing JSON lines to stdout at `level`: the process config's LOG_LEVEL, in any case
 * (TRACE … ERROR, or silent); `info` when it is not a level pino knows.
 */
export function createLogger(name: string, level = 'info'): Logger {
  const configured = level.trim().toLowerCase();
  const known = configured === 'silent' || configured in pino.levels.values;
  return pino({ name, level: known ? configured : 'info' });
}

/** A logger that writes nothing: the default where no composition root passed one (tests). */
export const silentLogger = (): Logger => pino({ level: 'silent' });
