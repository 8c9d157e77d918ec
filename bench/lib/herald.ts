/**
 * Herald as deployed: worker/main.ts and api/main.ts, each in its own process, configured through
 * their environment like any deployment, on the bench's PostgreSQL, Temporal server and sink.
 */
import path from 'node:path';
import type { BenchConfig } from '../config';
import { WORKER_NODE_FLAGS } from '../../worker/memory-limits';
import { startTsChild, type RunningChild } from './children';
import { MAIL_FROM } from './message';
import type { BenchStack } from './stack';

export const HERALD_TASK_QUEUE = 'herald-bench';

export interface HeraldProcesses {
  apiUrl: string;
  worker: RunningChild;
  api: RunningChild;
  /** The settings both processes got, for the report. */
  settings: Record<string, string>;
  stop(): Promise<void>;
}

export async function startHerald(config: BenchConfig, stack: BenchStack): Promise<HeraldProcesses> {
  const { flags } = config;
  const shared: Record<string, string> = {
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    HERALD_TASK_QUEUE,
    ...(flags['batch-size'] ? { BATCH_SIZE: String(flags['batch-size']) } : {}),
    ...(flags['concurrent-batches'] ? { MAX_CONCURRENT_BATCHES: String(flags['concurrent-batches']) } : {}),
  };
  const workerEnv = {
    SMTP_URL: stack.sink.url,
    SMTP_MAX_CONNECTIONS: String(stack.smtpConnections),
    MAIL_FROM,
    LOG_LEVEL: 'WARN',
    ...(stack.workflowBundlePath ? { WORKFLOW_BUNDLE_PATH: stack.workflowBundlePath } : {}),
  };
  const apiEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    // The bench measures throughput, not the abuse limits.
    RATE_LIMIT_PER_MINUTE: '0',
    MAX_SENDS_PER_NOTIFICATION: String(Math.max(100_000, flags.recipients * 4)),
  };
  // Written when each process exits: one directory per process, one .cpuprofile per thread in it (Node's
  // own names, with pid and thread id): the worker runs its workflows on threads of their own.
  const profile = (name: string) =>
    flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(flags['cpu-prof'], name)}`] : [];
  const worker = await startTsChild({
    script: 'worker/main.ts',
    nodeArgs: [...WORKER_NODE_FLAGS, ...profile('worker')],
    env: { ...config.baseEnv, ...shared, ...workerEnv, ...config.heraldEnv },
    ready: (line) => line.includes('worker started'),
  });
  let api: RunningChild;
  try {
    api = await startTsChild({
      script: 'api/main.ts',
      nodeArgs: profile('api'),
      env: { ...config.baseEnv, ...shared, ...apiEnv, ...config.heraldEnv },
      ready: (line) => line.includes('"api listening"'),
    });
  } catch (error) {
    await worker.stop();
    throw error;
  }
  const { url } = JSON.parse(api.readyLine) as { url: string };
  return {
    apiUrl: url,
    worker,
    api,
    settings: {
      ...Object.fromEntries(Object.entries(shared).filter(([k]) => k !== 'DATABASE_URL')),
      SMTP_MAX_CONNECTIONS: workerEnv.SMTP_MAX_CONNECTIONS,
      ...(stack.workflowBundlePath ? { WORKFLOW_BUNDLE_PATH: '(prebuilt)' } : {}),
      // The report prints these: a secret given with --set shows as set, not as its value.
      ...Object.fromEntries(
        Object.entries(config.heraldEnv).map(([k, v]) => [
          k,
          /SECRET|PASSWORD|TOKEN|KEY|_URL$/.test(k) ? '(set)' : v,
        ]),
      ),
    },
    stop: async () => {
      await api.stop();
      await worker.stop();
    },
  };
}
