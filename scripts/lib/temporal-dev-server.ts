import { spawn, type ChildProcess } from 'node:child_process';
import { devServerSearchAttributeArgs } from '../../common/temporal';
import { waitForPort } from './ports';

export interface RunningTemporal {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with its Web UI, a database file (runs survive restarts),
 * SQLite WAL pragmas (its single connection is the dev server's bottleneck) and Herald's search
 * attributes.
 */
export async function startTemporalDevServer(opts: {
  cli: string;
  port: number;
  uiPort: number;
  dbFile: string;
  logFile?: NodeJS.WritableStream;
}): Promise<RunningTemporal> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    opts.dbFile,
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    '--log-level',
    'warn',
    ...devServerSearchAttributeArgs(),
  ];
  const child = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (opts.logFile) {
    child.stdout?.pipe(opts.logFile);
    child.stderr?.pipe(opts.logFile);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`temporal dev server exited with code ${code}`))),
  );
  await Promise.race([waitForPort(opts.port, '127.0.0.1', 60_000), exited]);
  exited.catch(() => undefined);
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: `http://127.0.0.1:${opts.uiPort}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}
