import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './env';

export interface PostgresProcess {
  url: string;
  /** Shuts PostgreSQL down (a clean stop: its data stays in the directory). */
  stop(): Promise<void>;
}

/** A PostgreSQL of the test's own in a child process (test/support/pg-serve.ts), on `dataDir`. */
export function startPostgresProcess(opts: {
  dataDir: string;
  port: number;
  password: string;
}): Promise<PostgresProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'test', 'support', 'pg-serve.ts'),
      opts.dataDir,
      String(opts.port),
      opts.password,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ready (\S+)/.exec(out);
      if (match)
        resolve({
          url: match[1]!,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
    });
    child.once('exit', (code) => reject(new Error(`PostgreSQL process exited with ${code}: ${stderr}`)));
  });
}
