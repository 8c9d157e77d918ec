/**
 * The benchmark's one table: every measurement with its ratios to the limit, the peer and the
 * ceiling, then the targets of issue 10 (P1–P6) with ✓/✗. Also the same as JSON.
 */
import os from 'node:os';

export type MetricKey =
  | 'limit'
  | 'limit.raw'
  | 'peer'
  | 'ceiling.completed'
  | 'ceiling.starts'
  | 'ceiling.fixed'
  | 'ceiling.cpu'
  | 'single.completed'
  | 'single.accepted'
  | 'single.cpu'
  | 'fanout'
  | 'api.fixed'
  | 'api.max'
  | 'rss';

export interface Measurement {
  key: MetricKey;
  label: string;
  /** Mails, workflows or requests measured. */
  n: number;
  seconds: number;
  value: number;
  unit: string;
  /** How the value reads in the table when a plain number does not say it (p50/p99). */
  shown?: string;
  notes: string;
  details?: Record<string, unknown>;
}

export interface RowFailure {
  row: string;
  error: string;
}

type Ratios = { limit?: number; peer?: number; ceiling?: number };

/** Which measurement each one is compared with, per ratio column. */
const BASES: Partial<Record<MetricKey, { limit?: MetricKey; peer?: MetricKey; ceiling?: MetricKey }>> = {
  'limit.raw': { limit: 'limit' },
  peer: { limit: 'limit' },
  fanout: { limit: 'limit', peer: 'peer' },
  'single.completed': { ceiling: 'ceiling.completed' },
  'single.accepted': { ceiling: 'ceiling.starts' },
  'single.cpu': { ceiling: 'ceiling.cpu' },
  'api.max': { ceiling: 'ceiling.starts' },
};

export function ratiosOf(m: Measurement, all: Measurement[]): Ratios {
  const bases = BASES[m.key] ?? {};
  const of = (key: MetricKey | undefined) => {
    const base = key ? all.find((b) => b.key === key) : undefined;
    return base && base.value > 0 ? m.value / base.value : undefined;
  };
  return { limit: of(bases.limit), peer: of(bases.peer), ceiling: of(bases.ceiling) };
}

export interface Target {
  id: string;
  what: string;
  value: string;
  target: string;
  /** undefined: not measured in this run. */
  pass: boolean | undefined;
}

export const P3_RECIPIENTS = 1_000_000;
export const P3_MAX_EVENTS = 10_240;
export const P6_MAX_RSS_MB = 350;

export function targetsOf(all: Measurement[]): Target[] {
  const get = (key: MetricKey) => all.find((m) => m.key === key);
  const ratio = (key: MetricKey, column: keyof Ratios) => {
    const m = get(key);
    return m ? ratiosOf(m, all)[column] : undefined;
  };
  const ratioTarget = (id: string, what: string, r: number | undefined, min: number): Target => ({
    id,
    what,
    value: r === undefined ? 'not measured' : r.toFixed(2),
    target: `≥ ${min}`,
    pass: r === undefined ? undefined : r >= min,
  });
  const fanout = get('fanout');
  const rss = get('rss');
  const fixed = get('api.fixed');
  const bareFixed = get('ceiling.fixed');
  const maxEvents = fanout?.details?.maxEventsPerRun as number | undefined;
  const p3Measured = fanout !== undefined && fanout.n >= P3_RECIPIENTS;
  const rssMb = rss?.value;
  return [
    ratioTarget(
      'P1',
      'single-recipient completed/s ÷ bare Temporal',
      ratio('single.completed', 'ceiling'),
      0.8,
    ),
    ratioTarget('P2', '10,000-recipient fan-out mails/s ÷ limit', ratio('fanout', 'limit'), 0.8),
    {
      id: 'P3',
      what: `${P3_RECIPIENTS.toLocaleString('en')} recipients: completes, max history events per run`,
      value: fanout
        ? `${fanout.n.toLocaleString('en')} sent, ${maxEvents ?? '?'} events max in ${fanout.details?.runs ?? '?'} run(s)${rssMb !== undefined ? `, RSS ${rssMb} MB` : ''}`
        : 'not measured',
      target: `all sent, ≤ ${P3_MAX_EVENTS} events/run, RSS ≤ ${P6_MAX_RSS_MB} MB`,
      pass: p3Measured
        ? maxEvents !== undefined &&
          maxEvents <= P3_MAX_EVENTS &&
          (rssMb === undefined || rssMb <= P6_MAX_RSS_MB)
        : undefined,
    },
    ratioTarget('P4a', 'API most accepted/s ÷ bare workflow starts/s', ratio('api.max', 'ceiling'), 0.8),
    {
      id: 'P4b',
      what: `API p99 at ${fixed?.details?.rate ?? 100} req/s`,
      value: fixed
        ? `${fixed.value.toFixed(1)} ms${bareFixed ? ` (bare starts: ${bareFixed.value.toFixed(1)} ms)` : ''}`
        : 'not measured',
      target: '≤ 50 ms',
      pass: fixed ? fixed.value <= 50 : undefined,
    },
    {
      id: 'P6',
      what: 'worker RSS at its peak (Herald rows)',
      value: rssMb !== undefined ? `${rssMb} MB` : 'not measured',
      target: `≤ ${P6_MAX_RSS_MB} MB`,
      pass: rssMb !== undefined ? rssMb <= P6_MAX_RSS_MB : undefined,
    },
  ];
}

export function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

const fixed = (n: number | undefined, digits = 2) => (n === undefined ? '-' : n.toFixed(digits));

function grid(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function renderTable(all: Measurement[], failures: RowFailure[], targets: Target[]): string {
  const rows = all.map((m) => {
    const r = ratiosOf(m, all);
    return [
      m.label,
      String(m.n),
      m.seconds > 0 ? m.seconds.toFixed(2) : '-',
      m.shown ?? m.value.toFixed(m.value < 10 ? 2 : 0),
      m.unit,
      fixed(r.limit),
      fixed(r.peer),
      fixed(r.ceiling),
      m.notes,
    ];
  });
  for (const f of failures) rows.push([f.row, '-', '-', 'FAILED', '', '', '', '', f.error.split('\n')[0]!]);
  const table = grid(['row', 'n', 'seconds', 'value', 'unit', '÷limit', '÷peer', '÷ceiling', 'notes'], rows);
  const mark = (pass: boolean | undefined) => (pass === undefined ? '–' : pass ? '✓' : '✗');
  const goals = grid(
    ['target', 'what', 'value', 'goal', ''],
    targets.map((t) => [t.id, t.what, t.value, t.target, mark(t.pass)]),
  );
  return `${table}\n\n${goals}`;
}
