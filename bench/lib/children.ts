import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface RunningChild {
  process: ChildProcess;
  pid: number;
  /** The stdout line that said it was ready. */
  readyLine: string;
  /** Last output, for an error message. */
  tail(): string;
  /** SIGTERM (a clean shutdown), SIGKILL after 20 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * A TypeScript entry point in its own node process (`node --import tsx`, so the pid is node's own and
 * its RSS is the program's), resolved once a stdout line passes `ready`.
 */
export function startTsChild(opts: {
  script: string;
  args?: string[];
  env: Record<string, string>;
  ready: (line: string) => boolean;
  ipc?: boolean;
  timeoutMs?: number;
  /** Node's own flags, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
}): Promise<RunningChild> {
  const nodeArgs = [...(opts.nodeArgs ?? []), '--import', 'tsx', opts.script, ...(opts.args ?? [])];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
  });
  let tail = '';
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000));
  child.stderr!.on('data', keep);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      void stop();
      reject(new Error(`${opts.script} not ready after ${(opts.timeoutMs ?? 180_000) / 1000} s: ${tail}`));
    }, opts.timeoutMs ?? 180_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (done) return;
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const line = lines.find(opts.ready);
      if (line === undefined) return;
      done = true;
      clearTimeout(timer);
      resolve({ process: child, pid: child.pid!, readyLine: line, tail: () => tail, stop });
    });
    child.once('exit', (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${opts.script} exited early (${code ?? signal}): ${tail}`));
    });
  });
}
