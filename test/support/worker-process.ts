import { spawn, type ChildProcess } from 'node:child_process';
import { WORKER_NODE_FLAGS } from '../../worker/memory-limits';
import { ROOT } from './env';
import type { Stack } from './stack';

/**
 * A real worker process, as deployed, resolved once it has started polling. `node --import tsx`
 * rather than the tsx binary: that one runs node as a child, which a SIGKILL to tsx would orphan.
 */
export function startWorkerProcess(
  stack: Stack,
  channelEnv: Record<string, string>,
  temporalAddress: string = stack.env.temporalAddress,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', 'worker/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.env.databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      HERALD_TASK_QUEUE: stack.taskQueue,
      SMTP_URL: `${stack.sink.url}?tls=off`, // plain-text loopback sink; smtp:// otherwise requires STARTTLS
      WORKFLOW_BUNDLE_PATH: stack.env.workflowBundlePath,
      ...channelEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker started')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}: ${stderr}`)));
  });
}

/** Stops a worker process: SIGKILL (a crash) or SIGTERM (a restart: it drains, then exits). */
export async function stopWorkerProcess(child: ChildProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
