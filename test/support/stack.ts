import { createLogger } from '../../common/logger';
import { channelSettings } from '../../activities/channels/settings';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createApp } from '../../api/app';
import { serveApp } from '../../api/http-server';
import { createHeraldClient, type HeraldClient } from '../../clients/typescript/src';
import { closeInboxStream } from '../../api/inbox-stream';
import { loadApiConfig, type ApiConfig } from '../../api/config';
import { createPool } from '../../db/pool';
import { startMailSink, type MailSink, type MailSinkOptions } from '../../scripts/lib/mail-sink';
import { TemplateRegistry } from '../../templates/registry';
import {
  ackLinksFrom,
  buildChannels,
  createHeraldWorker,
  unsubscribeLinksFrom,
} from '../../worker/create-worker';
import { createTestTenant, TEST_SECRET_KEY } from './auth';
import { readTestEnv, type TestEnv } from './env';

let runtimeQuieted = false;

/** Keeps the Rust core's warnings (e.g. about a killed worker) out of the test output. */
function quietRuntime(): void {
  if (runtimeQuieted) return;
  runtimeQuieted = true;
  Runtime.install({
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
  });
}

/** Tests read response bodies freely; a wrong guess fails the assertion that reads it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface ApiResponse {
  status: number;
  body: Json;
  headers: Headers;
}

export interface Stack {
  env: TestEnv;
  db: Pool;
  client: Client;
  sink: MailSink;
  taskQueue: string;
  baseUrl: string;
  config: ApiConfig;
  worker: Worker | null;
  /** The stack's own tenant, made fresh for it, and a key of it with every tenant scope plus `critical`. */
  tenantId: string;
  apiKey: string;
  /** The typed client (clients/typescript) as the stack's key; `client` is the Temporal client. */
  herald: HeraldClient;
  /**
   * fetch against the API with a JSON body, as the stack's key unless `headers` names its own
   * `authorization` (an empty one: no Authorization header at all).
   */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface StackOptions {
  sink?: MailSinkOptions;
  /** Environment for the API config (e.g. short retry intervals). */
  apiEnv?: Record<string, string>;
  /** false: no in-process worker (a test runs its own, e.g. as a child process). */
  worker?: boolean;
  /** Channel settings for the worker (VAPID_*, TWILIO_*…), besides SMTP_URL pointing at the test's sink. */
  channelEnv?: Record<string, string>;
  /** The stack's tenant id (default: a fresh unique one). */
  tenantId?: string;
  /** Another Temporal server than the run's shared dev server (a fault test's own, which it restarts). */
  temporalAddress?: string;
  /** Another (migrated) PostgreSQL than the run's shared one (a fault test's own, which it stops). */
  databaseUrl?: string;
}

/** Fast retries so retry behaviour is visible within a test. */
export const FAST_RETRY_ENV = {
  RETRY_INITIAL_INTERVAL_MS: '200',
  RETRY_BACKOFF_COEFFICIENT: '2',
  RETRY_MAX_INTERVAL_MS: '1000',
  RETRY_MAX_ATTEMPTS: '5',
};

/**
 * One test file's slice of the real system: its own SMTP server and task queue, an in-process
 * worker on the shared Temporal dev server, and the HTTP API listening on a loopback port.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  quietRuntime();
  const shared = readTestEnv();
  const env: TestEnv = {
    ...shared,
    temporalAddress: options.temporalAddress ?? shared.temporalAddress,
    databaseUrl: options.databaseUrl ?? shared.databaseUrl,
  };
  const taskQueue = `test-${randomUUID()}`;
  const sink = await startMailSink(options.sink ?? {});
  const db = createPool(env.databaseUrl, 20);
  const templates = await TemplateRegistry.load();
  const connection = await Connection.connect({ address: env.temporalAddress });
  const client = new Client({ connection, namespace: env.namespace });
  const tenantId = options.tenantId ?? uniq('tenant');
  const { key: apiKey } = await createTestTenant(db, tenantId);
  const config = loadApiConfig({
    HERALD_SECRET_KEY: TEST_SECRET_KEY,
    DATABASE_URL: env.databaseUrl,
    TEMPORAL_ADDRESS: env.temporalAddress,
    HERALD_TASK_QUEUE: taskQueue,
    PORT: '0',
    ...FAST_RETRY_ENV,
    ...options.apiEnv,
  });

  let worker: Worker | null = null;
  let workerRun: Promise<void> = Promise.resolve();
  let workerConnection: NativeConnection | null = null;
  // Parsed as the worker parses its configuration, so a test's bad channel setting fails the same way.
  const channelConfig = channelSettings({
    SMTP_URL: `${sink.url}?tls=off`, // the sink is plain-text loopback; smtp:// otherwise requires STARTTLS
    SMTP_MAX_CONNECTIONS: '5',
    MAIL_FROM: 'Herald Test <herald@test.local>',
    // Shared with the API, as in a deployment: what the API seals, the channels open.
    HERALD_SECRET_KEY: config.HERALD_SECRET_KEY,
    ...options.channelEnv,
  });
  const setup = buildChannels({ settings: channelConfig, db });
  if (options.worker !== false) {
    workerConnection = await NativeConnection.connect({ address: env.temporalAddress });
    worker = await createHeraldWorker({
      connection: workerConnection,
      namespace: env.namespace,
      taskQueue,
      db,
      channels: setup.channels,
      templates,
      brandName: 'Herald Test',
      ackLinks: ackLinksFrom(channelConfig),
      unsubscribeLinks: unsubscribeLinksFrom(channelConfig),
      workflowBundle: { codePath: env.workflowBundlePath },
      // Silent unless a run asks for the activities' log lines (LOG_LEVEL=debug npm test).
      log: process.env.LOG_LEVEL ? createLogger('activities', process.env.LOG_LEVEL) : undefined,
    });
    workerRun = worker.run();
  }

  const app = createApp({ db, temporal: client, templates, config });
  const server: ServerType = await new Promise((resolve) => {
    const s = serveApp(app, { port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    env,
    db,
    client,
    sink,
    taskQueue,
    baseUrl,
    config,
    worker,
    tenantId,
    apiKey,
    herald: createHeraldClient({ baseUrl, token: apiKey }),
    async api(method, path, body, headers = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: withAuth(apiKey, {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        }),
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async close() {
      // Open SSE streams would keep server.close() waiting.
      await closeInboxStream(db);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (worker) {
        worker.shutdown();
        await workerRun;
      }
      await workerConnection?.close();
      await setup.close();
      await connection.close();
      await sink.close();
      await db.end();
    },
  };
}

/**
 * A request with exactly these headers (a JSON body when given); an event stream is cut off after
 * its headers, so a route that wrongly opens a stream fails the test instead of hanging it.
 */
export async function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<ApiResponse> {
  const controller = new AbortController();
  const headers = {
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...options.headers,
  };
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: controller.signal,
  });
  let parsed: unknown = null;
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) controller.abort();
  else {
    const text = await response.text();
    parsed = text ? JSON.parse(text) : null;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Adds `Authorization: Bearer <key>` unless the caller set its own (empty: none). */
export function withAuth(apiKey: string, headers: Record<string, string>): Record<string, string> {
  const own = Object.keys(headers).find((h) => h.toLowerCase() === 'authorization');
  if (own === undefined) return { ...headers, authorization: `Bearer ${apiKey}` };
  if (headers[own] === '') {
    const { [own]: _omitted, ...rest } = headers;
    return rest;
  }
  return headers;
}

/** Polls GET /v1/notifications/{id} until the notification has finished. */
export async function waitForNotification(stack: Stack, id: string, timeoutMs = 60_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await stack.api('GET', `/v1/notifications/${id}`);
    if (['completed', 'failed', 'cancelled'].includes(body?.status)) return body;
    if (Date.now() > deadline) {
      throw new Error(
        `notification ${id} still ${body?.status} after ${timeoutMs} ms; ${await diagnose(stack, `notification-${id}`)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** A short unique suffix so test files sharing one database never collide. */
export const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The workflow's pending activities and last failures, to make a timeout say why. */
async function diagnose(stack: Stack, workflowId: string): Promise<string> {
  try {
    const handle = stack.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const pending = description.raw.pendingActivities?.map(
      (a) => `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure'}`,
    );
    const history = await handle.fetchHistory();
    const failures = (history.events ?? [])
      .map(
        (e) =>
          e.workflowTaskFailedEventAttributes?.failure?.message ??
          e.activityTaskFailedEventAttributes?.failure?.message,
      )
      .filter(Boolean);
    return `workflow ${description.status.name}; pending: ${JSON.stringify(pending)}; failures: ${JSON.stringify(failures.slice(-3))}`;
  } catch (error) {
    return `no workflow diagnostics: ${(error as Error).message}`;
  }
}
