import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ensureSearchAttributes } from '../../worker/create-worker';
import { freePort } from './ports';

const run = promisify(execFile);

/** The config file is `<dir>/<ENV_NAME>.yaml`: the server picks it by `--env`. */
const ENV_NAME = 'herald';
const NAMESPACE = 'default';
const GRPC_ALREADY_EXISTS = 6;

export interface TemporalFullServerOptions {
  /** The `server` binary of go.temporal.io/server (TEMPORAL_SERVER). */
  server: string;
  /** temporal-sql-tool (TEMPORAL_SQL_TOOL); its schemas are embedded, no schema directory needed. */
  sqlTool: string;
  pg: { host: string; port: number; user: string; password: string };
  /** Existing, empty databases: the schemas are set up in them. */
  databases: { main: string; visibility: string };
  /** Config, dynamic config and the server's log (server.log) go here. */
  dir: string;
}

export interface RunningTemporalFullServer {
  address: string;
  /** SIGTERM, then SIGKILL after 30 s; resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same ports and databases. */
  restart(): Promise<void>;
  /** The running server's process id (it changes with a restart). */
  pid(): number | undefined;
}

/**
 * The full Temporal server (frontend, history, matching, worker in one process) on PostgreSQL
 * persistence and SQL visibility, with namespace `default` and Herald's search attributes: unlike
 * the dev server, its state lives in databases that outlast the process.
 */
export async function startTemporalFullServer(
  opts: TemporalFullServerOptions,
): Promise<RunningTemporalFullServer> {
  await setupSchema(opts, opts.databases.main, 'postgresql/v12/temporal');
  await setupSchema(opts, opts.databases.visibility, 'postgresql/v12/visibility');

  const ports: Record<ServicePort, number> = {
    frontend: await freePort(),
    frontendMembership: await membershipPort(),
    history: await freePort(),
    historyMembership: await membershipPort(),
    matching: await freePort(),
    matchingMembership: await membershipPort(),
    worker: await freePort(),
    workerMembership: await membershipPort(),
  };
  const dynamicConfig = path.join(opts.dir, 'dynamicconfig.yaml');
  // Search attributes registered a moment ago must be usable at once, as on the dev server.
  await writeFile(dynamicConfig, 'system.forceSearchAttributesCacheRefreshOnRead:\n  - value: true\n');
  await writeFile(path.join(opts.dir, `${ENV_NAME}.yaml`), configYaml(opts, ports, dynamicConfig));
  const address = `127.0.0.1:${ports.frontend}`;

  let child: ChildProcess | null = null;
  const start = async () => {
    const proc = spawn(
      opts.server,
      ['--root', opts.dir, '--config', '.', '--env', ENV_NAME, '--allow-no-auth', 'start'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const log = createWriteStream(path.join(opts.dir, 'server.log'), { flags: 'a' });
    proc.once('close', () => log.end());
    // The last lines in memory too: a failed start says why even after `dir` is removed.
    let tail = '';
    for (const stream of [proc.stdout, proc.stderr]) {
      stream?.pipe(log, { end: false });
      stream?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-2000)));
    }
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`temporal server exited with code ${code}: ${tail}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([ensureNamespace(address, () => proc.exitCode === null), exited]);
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      proc.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill('SIGTERM');
    });

  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, stop, restart: start, pid: () => child?.pid };
}

/**
 * A free port below 32768: the schema stores membership ports as SMALLINT, and the kernel's
 * ephemeral ports (what freePort gets) lie above it.
 */
async function membershipPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

type ServicePort = `${'frontend' | 'history' | 'matching' | 'worker'}${'' | 'Membership'}`;

/** Versioning tables at 0.0, then every versioned step up to the latest schema. */
async function setupSchema(opts: TemporalFullServerOptions, database: string, schema: string): Promise<void> {
  const base = [
    '--plugin',
    'postgres12',
    '--ep',
    opts.pg.host,
    '-p',
    String(opts.pg.port),
    '-u',
    opts.pg.user,
    '--db',
    database,
  ];
  // The password through the environment, not argv (visible in ps).
  const env = { ...process.env, SQL_PASSWORD: opts.pg.password };
  await run(opts.sqlTool, [...base, 'setup-schema', '-v', '0.0'], { env });
  await run(opts.sqlTool, [...base, 'update-schema', '-s', schema], { env });
}

/**
 * Registers namespace `default` and Herald's search attributes. The frontend accepts connections
 * before its services have joined the ring, and a new namespace reaches every service's cache
 * only after a while: retry until a visibility query in it succeeds.
 */
async function ensureNamespace(address: string, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (alive()) {
    try {
      const connection = await Connection.connect({ address });
      try {
        await connection.workflowService
          .registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: msToTs('1 day') })
          .catch((error: { code?: number }) => {
            if (error.code !== GRPC_ALREADY_EXISTS) throw error;
          });
        await ensureSearchAttributes(address, NAMESPACE);
        await connection.workflowService.listWorkflowExecutions({ namespace: NAMESPACE, pageSize: 1 });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`temporal server not ready: ${(error as Error).message}`, { cause: error });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error('temporal server exited while starting');
}

function configYaml(
  opts: TemporalFullServerOptions,
  ports: Record<ServicePort, number>,
  dynamicConfig: string,
): string {
  const datastore = (database: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${opts.pg.host}:${opts.pg.port}`,
      connectProtocol: 'tcp',
      user: opts.pg.user,
      password: opts.pg.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true },
  });
  // JSON is YAML: no YAML writer needed, and every value is quoted correctly.
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: {
        'postgres-default': datastore(opts.databases.main, 20),
        'postgres-visibility': datastore(opts.databases.visibility, 5),
      },
    },
    // No metrics and no pprof: each would need another port.
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: dynamicConfig, pollInterval: '10s' },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
