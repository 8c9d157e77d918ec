import { createWorkerMetrics, workerMetrics } from '../common/metrics';
import { startMetricsServer } from '../worker/metrics-server';
import { createKey } from './support/auth';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** The family a sample belongs to: histograms and summaries add suffixes to their family's name. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    if (base && ['histogram', 'summary'].includes(types.get(base) ?? '')) return base;
  }
  return undefined;
}

/** Values as Prometheus reads them: Go's ParseFloat, so NaN and Inf in any letter case. */
function parseValue(text: string, line: string): number {
  const special = text.toLowerCase();
  if (special === '+inf' || special === 'inf') return Infinity;
  if (special === '-inf') return -Infinity;
  if (special === 'nan') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

/** Parses `{a="x",b="y\"z"}` starting at `start`; returns the labels and the index after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (name in labels) throw new Error(`label ${name} repeated in: ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const ch = line[j];
      if (ch === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`bad escape in: ${line}`);
        j += 2;
      } else {
        value += ch;
        j++;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
}

/** A strict parser for the Prometheus text exposition format (version 0.0.4). */
function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const seen = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!meta) continue; // a plain comment
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'HELP') {
        if (help.has(name)) throw new Error(`second HELP for ${name}`);
        help.set(name, rest);
      } else {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        if (types.has(name)) throw new Error(`second TYPE for ${name}`);
        if (seen.has(name)) throw new Error(`TYPE for ${name} after its samples`);
        types.set(name, rest);
      }
      continue;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`bad sample line: ${line}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, name.length);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const fields = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (!fields) throw new Error(`bad sample line: ${line}`);
    const family = familyOf(name, types);
    if (!family) throw new Error(`sample ${name} has no TYPE before it`);
    seen.add(family);
    samples.push({ name, labels, value: parseValue(fields[1]!, line) });
  }
  return { types, help, samples };
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('Prometheus metrics', () => {
  let stack: Stack;
  /** /metrics is the operator's: a key with scope `operator` (only the CLI mints those). */
  let operatorKey: string;
  beforeAll(async () => {
    stack = await startStack();
    operatorKey = (await createKey(stack.db, null, ['operator'])).key;
  });
  afterAll(async () => {
    await stack.close();
  });

  /** The worker's registry, over HTTP as its own /metrics serves it (the worker runs in this process here). */
  async function scrapeWorker(): Promise<Exposition> {
    const server = await startMetricsServer(workerMetrics(), 0);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      return parseExposition(await response.text());
    } finally {
      await server.close();
    }
  }

  async function scrape(): Promise<Exposition> {
    const response = await fetch(`${stack.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${operatorKey}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await response.text());
  }

  it('answers 401 without a key and 403 to a tenant key: only an operator key scrapes', async () => {
    expectError(await stack.api('GET', '/metrics', undefined, { authorization: '' }), 401, 'unauthorized');
    const tenantKey = await stack.api('GET', '/metrics');
    expectError(tenantKey, 403, 'forbidden');
    expect(tenantKey.body.error.message).toContain('operator');
  });

  it('serves well-formed Prometheus text: the API its requests, the worker its deliveries', async () => {
    const api = await scrape();
    expect(api.types.get('herald_http_requests_total')).toBe('counter');
    expect(api.types.get('herald_http_request_duration_seconds')).toBe('histogram');
    // Never a delivery counter the API cannot move: the worker is another process in every deployment.
    for (const name of ['herald_deliveries_total', 'herald_send_batch_retries_total']) {
      expect(api.types.has(name)).toBe(false);
    }
    const worker = await scrapeWorker();
    expect(worker.types.get('herald_deliveries_total')).toBe('counter');
    expect(worker.types.get('herald_send_batch_retries_total')).toBe('counter');
    expect(worker.types.get('herald_escalations_total')).toBe('counter');
    expect(worker.types.get('herald_digest_items_total')).toBe('counter');
    expect(worker.types.has('herald_http_requests_total')).toBe(false);
    for (const exposition of [api, worker])
      for (const name of exposition.types.keys()) expect(exposition.help.get(name)).toBeTruthy();
  });

  it('counts the deliveries a notification made, and the requests by route pattern and status', async () => {
    const sentLabels = { channel: 'email', outcome: 'sent' };
    const postLabels = { method: 'POST', route: '/v1/notifications' };
    const before = await scrape();
    const workerBefore = await scrapeWorker();

    const emails = [uniq('m1'), uniq('m2'), uniq('m3')].map((n) => `${n}@example.com`);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { emails },
      channels: ['email'],
      data: { ticketId: '7', title: 'Metrics', priority: 'low' },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id, 15000);
    expect(view.counts).toEqual({ sent: 3 });
    const missing = await stack.api('GET', '/no/such/route');
    expect(missing.status).toBe(404);

    const after = await scrape();
    const workerAfter = await scrapeWorker();
    expect(valueOf(workerAfter, 'herald_deliveries_total', sentLabels)).toBe(
      valueOf(workerBefore, 'herald_deliveries_total', sentLabels) + 3,
    );
    expect(valueOf(after, 'herald_http_requests_total', postLabels)).toBe(
      valueOf(before, 'herald_http_requests_total', postLabels) + 1,
    );
    expect(valueOf(after, 'herald_http_requests_total', { ...postLabels, status: '202' })).toBeGreaterThan(0);
    expect(
      valueOf(after, 'herald_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/notifications',
      }),
    ).toBe(valueOf(before, 'herald_http_request_duration_seconds_count', postLabels) + 1);
    // Polling the notification is one series per route pattern, never one per id.
    expect(
      valueOf(after, 'herald_http_requests_total', { route: '/v1/notifications/:id', status: '200' }),
    ).toBeGreaterThan(0);
    expect(after.samples.some((s) => s.labels.route?.includes(created.body.id))).toBe(false);
    // No route matched: one series for every unknown path, with its status.
    expect(valueOf(after, 'herald_http_requests_total', { route: 'unmatched', status: '404' })).toBe(
      valueOf(before, 'herald_http_requests_total', { route: 'unmatched', status: '404' }) + 1,
    );
    expect(after.samples.some((s) => s.labels.route === '/no/such/route')).toBe(false);
  });

  it('serves a worker registry on its own port', async () => {
    const metrics = createWorkerMetrics();
    metrics.deliveries.inc({ channel: 'sms', outcome: 'failed' }, 2);
    metrics.batchRetries.inc({ channel: 'sms' });
    // Loopback by default: the server has no authentication.
    const server = await startMetricsServer(metrics, 0);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const exposition = parseExposition(await response.text());
      expect(valueOf(exposition, 'herald_deliveries_total', { channel: 'sms', outcome: 'failed' })).toBe(2);
      expect(valueOf(exposition, 'herald_send_batch_retries_total', { channel: 'sms' })).toBe(1);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('rejects malformed exposition text', () => {
    expect(() => parseExposition('x 1\n')).toThrow(/no TYPE/);
    expect(() => parseExposition('# TYPE x counter\nx{a="1} 1\n')).toThrow(/unterminated/);
    expect(() => parseExposition('# TYPE x counter\nx one\n')).toThrow(/bad value/);
    expect(() => parseExposition('# TYPE x bogus\n')).toThrow(/bad type/);
    expect(parseExposition('# HELP x An x.\n# TYPE x counter\nx{a="q\\"z"} 1.5e2\n').samples).toEqual([
      { name: 'x', labels: { a: 'q"z' }, value: 150 },
    ]);
  });
});
