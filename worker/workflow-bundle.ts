import { fork } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Herald's workflows bundled by a child process (worker/bundle-workflows.ts), so the worker keeps
 * only the bundle: bundling in-process leaves webpack's heap in the worker for its whole life.
 */
export async function bundleWorkflowsInChild(): Promise<{ codePath: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-workflows-'));
  const codePath = path.join(dir, 'workflow-bundle.js');
  const child = fork(path.join(__dirname, 'bundle-workflows.ts'), [codePath], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`bundling the workflows failed (exit code ${code})`);
  return { codePath };
}
