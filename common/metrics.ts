import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus's text exposition format, as `/metrics` serves it. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The API's own metrics: what it does itself (requests), nothing another process does. */
export interface ApiMetrics {
  registry: Registry;
  /** HTTP requests by method, matched route pattern (never the raw path) and status. */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** HTTP request latency in seconds by method and matched route pattern. */
  httpDuration: Histogram<'method' | 'route'>;
}

/** A worker's metrics: what its activities do; served by the worker itself (WORKER_METRICS_PORT). */
export interface WorkerMetrics {
  registry: Registry;
  /** Deliveries that reached an outcome in a send attempt: sent, failed, skipped, retrying. */
  deliveries: Counter<'channel' | 'outcome'>;
  /** Send batches that threw for transient failures (Temporal retries them). */
  batchRetries: Counter<'channel'>;
  /** Escalation levels whose deliveries were prepared. */
  escalations: Counter<'level'>;
  /** Deliveries held back for a digest instead of sent now. */
  digestItems: Counter<never>;
}

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC), prefixed `herald_`. */
  defaultMetrics?: boolean;
}

function newRegistry(options: MetricsOptions): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'herald_' });
  return registry;
}

/** A fresh API registry; no side effects until called. */
export function createApiMetrics(options: MetricsOptions = {}): ApiMetrics {
  const registry = newRegistry(options);
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'herald_http_requests_total',
      help: 'HTTP requests by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'herald_http_request_duration_seconds',
      help: 'HTTP request latency in seconds by method and route pattern.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}

/** A fresh worker registry; no side effects until called. */
export function createWorkerMetrics(options: MetricsOptions = {}): WorkerMetrics {
  const registry = newRegistry(options);
  const registers = [registry];
  return {
    registry,
    deliveries: new Counter({
      name: 'herald_deliveries_total',
      help: 'Delivery attempt outcomes by channel (sent, failed, skipped, retrying).',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    batchRetries: new Counter({
      name: 'herald_send_batch_retries_total',
      help: 'Send batches that failed transiently and are retried by Temporal, by channel.',
      labelNames: ['channel'] as const,
      registers,
    }),
    escalations: new Counter({
      name: 'herald_escalations_total',
      help: 'Escalation levels whose deliveries were prepared, by level.',
      labelNames: ['level'] as const,
      registers,
    }),
    digestItems: new Counter({
      name: 'herald_digest_items_total',
      help: 'Deliveries collected into a digest instead of being sent at once.',
      registers,
    }),
  };
}

let processApiMetrics: ApiMetrics | undefined;
let processWorkerMetrics: WorkerMetrics | undefined;

/**
 * The process's API metrics, created on first use. Delivery counters are not among them: the API
 * never sends, and in every documented deployment the worker is another process, so the API would
 * only ever show them at 0. They are the worker's (workerMetrics, on WORKER_METRICS_PORT).
 */
export function apiMetrics(): ApiMetrics {
  processApiMetrics ??= createApiMetrics({ defaultMetrics: !processWorkerMetrics });
  return processApiMetrics;
}

/** The process's worker metrics (activities record here), with the Node.js process metrics. */
export function workerMetrics(): WorkerMetrics {
  processWorkerMetrics ??= createWorkerMetrics({ defaultMetrics: !processApiMetrics });
  return processWorkerMetrics;
}
