import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus's text exposition format, as `/metrics` serves it. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface HeraldMetrics {
  registry: Registry;
  /** HTTP requests by method, matched route pattern (never the raw path) and status. */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** HTTP request latency in seconds by method and matched route pattern. */
  httpDuration: Histogram<'method' | 'route'>;
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

/** A fresh registry with Herald's metrics; no side effects until called. */
export function createMetrics(options: MetricsOptions = {}): HeraldMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'herald_' });
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

let processMetrics: HeraldMetrics | undefined;

/**
 * The process-wide metrics, created on first use. One process, one registry: the API middleware and
 * the activities both record here, so when the API and a worker share a process (as in the tests, or
 * a single-process deployment) the API's `/metrics` shows both. A standalone worker process serves the
 * same registry itself (worker/metrics-server.ts, on WORKER_METRICS_PORT).
 */
export function defaultMetrics(): HeraldMetrics {
  processMetrics ??= createMetrics({ defaultMetrics: true });
  return processMetrics;
}
