import { spawn } from 'node:child_process';
import { waitForPort, freePort } from '../../scripts/lib/ports';

export interface RunningRedis {
  host: string;
  port: number;
  /** How the peer row's server came to be: the operator's REDIS_URL, or a throwaway redis-server. */
  origin: string;
  stop(): Promise<void>;
}

/**
 * REDIS_URL when it is set; otherwise Debian's redis-server (scripts/bootstrap.sh ensure_redis
 * installs it) on a free port, in memory only: no RDB snapshots, no append-only file.
 */
export async function startRedis(redisUrl: string | undefined, dir: string): Promise<RunningRedis> {
  if (redisUrl) {
    const url = new URL(redisUrl);
    // BullMQ would wait for an unreachable server for ever: say so at once instead.
    await waitForPort(Number(url.port || 6379), url.hostname, 10_000);
    return { host: url.hostname, port: Number(url.port || 6379), origin: 'REDIS_URL', stop: async () => {} };
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let tail = '';
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-2000)));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(
        new Error(
          `redis-server: ${error.message} (run through npm run bench, which installs it, or set REDIS_URL)`,
        ),
      ),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${tail}`)));
  });
  failed.catch(() => undefined);
  await Promise.race([waitForPort(port, '127.0.0.1', 20_000), failed]);
  return {
    host: '127.0.0.1',
    port,
    origin: `redis-server on port ${port} (no persistence)`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
