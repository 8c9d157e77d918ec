import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { generateVAPIDKeys } from 'web-push';
import { createKey } from './support/auth';
import { ROOT } from './support/env';
import { rawRequest, startStack, type Stack } from './support/stack';

/**
 * Issue 11 §3: schemathesis, an outside fuzzer, generates requests from /openapi.json (valid and
 * invalid ones) against the running API with a valid key. Nothing a client can send may be a 5xx,
 * every documented response must match its schema, and the API must still be ready afterwards.
 *
 * schemathesis comes from PyPI into a virtual environment under .tmp/ (reused by later runs).
 */

const SCHEMATHESIS_VERSION = '4.32.5'; // pinned: a new release generates other cases from the same seed
const VENV = path.join(ROOT, '.tmp', 'schemathesis-venv');
const BIN = path.join(VENV, 'bin', 'schemathesis');
const REPORTS = path.join(ROOT, '.tmp', 'fuzz-reports');
const PYTHON = process.env.HERALD_PYTHON ?? 'python3';

/**
 * Test cases per operation and phase: 50 makes ~4,800 requests in under a minute. A deeper run on
 * demand: HERALD_FUZZ_EXAMPLES=500 HERALD_FUZZ_SEED=7 npm run test:fuzz.
 */
const MAX_EXAMPLES = Number(process.env.HERALD_FUZZ_EXAMPLES ?? 50);
const SEED = process.env.HERALD_FUZZ_SEED ?? '20261201';
/** A hung run fails the test with its output instead of running into the jest timeout. */
// Generous: on a loaded 2-core machine a run over every operation (bulk calls start many workflows) takes minutes.
const RUN_TIMEOUT_MS = 6_000 * MAX_EXAMPLES;
const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 60_000;

const NOT_A_SERVER_ERROR = 'not_a_server_error';
const CHECKS = [NOT_A_SERVER_ERROR, 'response_schema_conformance'];

/**
 * Left out, each for a reason outside what the fuzzer tests: generated URLs would be contacted
 * (webhook endpoints, push subscriptions: real outside addresses pass the URL check; the SMTP and Twilio
 * settings tests, which connect to the tenant's server or to api.twilio.com), revoking a key
 * would revoke the fuzzer's own (found by the stateful phase via GET /v1/api-keys), and a live
 * event stream never ends (the client would wait for the body until its timeout).
 */
const EXCLUDED = [
  'POST /v1/webhook-endpoints',
  'POST /v1/recipients/{externalId}/push-subscriptions',
  'DELETE /v1/api-keys/{id}',
  'POST /v1/settings/smtp/test',
  'POST /v1/settings/twilio/test',
  'GET /v1/recipients/{externalId}/inbox/stream',
];
/** Operator-only routes: fuzzed in a second run with an operator key. */
const OPERATOR_ROUTES = '^/v1/(tenants|schedules)';

interface RunReport {
  schemathesis_version: string;
  running_time: number;
  exit_code: number;
  operations: { selected: number; tested: number; errored: number };
  test_cases: { generated: number; with_failures: number; errored: number };
  failures: { code: string; title: string; count: number; operations: string[] }[];
  errors: unknown[];
}

interface Run {
  report: RunReport;
  /** The HTTP requests schemathesis sent, by status class (2xx, 4xx…), from its HAR report. */
  requests: Record<string, number>;
  output: string;
  exitCode: number | null;
}

/** A venv with the pinned schemathesis, made once; `python3 -m venv` needs ensurepip (python3-venv). */
function ensureSchemathesis(): void {
  const version = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  if (version.status === 0 && version.stdout.includes(SCHEMATHESIS_VERSION)) return;
  rmSync(VENV, { recursive: true, force: true });
  for (const [cmd, args] of [
    [PYTHON, ['-m', 'venv', VENV]],
    [path.join(VENV, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`]],
  ] as const) {
    const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
    if (result.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.error}`);
  }
}

/** Runs schemathesis asynchronously: the API answers from this very process, so it must not block. */
async function fuzz(stack: Stack, name: string, apiKey: string, filter: string[]): Promise<Run> {
  const reportPath = path.join(REPORTS, `${name}.json`);
  const harPath = path.join(REPORTS, `${name}.har`);
  for (const file of [reportPath, harPath]) rmSync(file, { force: true });
  const args = [
    'run',
    `${stack.baseUrl}/openapi.json`,
    '--header',
    `Authorization: Bearer ${apiKey}`,
    '--checks',
    CHECKS.join(','),
    '--max-examples',
    String(MAX_EXAMPLES),
    '--seed',
    SEED,
    // No examples remembered from earlier runs: the same seed then means the same cases.
    '--generation-database',
    'none',
    // One worker: with two, hypothesis' shared caches race and schemathesis reports its own Runtime Errors.
    '--workers',
    '1',
    // Above the API's own longest wait (an SMTP or Twilio credential test: 12 s, plus a DNS lookup of at most 5 s).
    '--request-timeout',
    '30',
    '--no-color',
    '--report',
    'json,har',
    '--report-json-path',
    reportPath,
    '--report-har-path',
    harPath,
    ...filter,
  ];
  const child = spawn(BIN, args, { cwd: REPORTS, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (exitCode === null)
    throw new Error(
      `schemathesis (${name}) was stopped after ${RUN_TIMEOUT_MS / 1000} s without finishing:\n${output}`,
    );
  if (!existsSync(reportPath))
    throw new Error(`schemathesis (${name}) exited ${exitCode} without a report:\n${output}`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RunReport;
  const har = JSON.parse(readFileSync(harPath, 'utf8')) as {
    log: { entries: { response: { status: number } }[] };
  };
  const requests: Record<string, number> = {};
  for (const { response } of har.log.entries) {
    const status = `${Math.floor(response.status / 100)}xx`;
    requests[status] = (requests[status] ?? 0) + 1;
  }
  return { report, requests, output, exitCode };
}

/** The summary and, when something failed, the failing cases with their curl commands. */
function summarize(name: string, { report, requests, output }: Run): string {
  // From the first section that names what went wrong (errors, e.g. a request with no answer, name the operation).
  const first = ['=== ERRORS ===', '=== FAILURES ===', '=== SUMMARY ===']
    .map((title) => output.indexOf(title))
    .find((at) => at >= 0);
  const from = first === undefined ? 0 : output.lastIndexOf('\n', first);
  return [
    `schemathesis ${report.schemathesis_version}, ${name}: ${report.test_cases.generated} test cases over ` +
      `${report.operations.tested} operations in ${report.running_time.toFixed(1)} s; ` +
      `${Object.values(requests).reduce((a, b) => a + b, 0)} requests, by status ${JSON.stringify(requests)}`,
    output.slice(Math.max(0, from)).trim(),
  ].join('\n');
}

const serverErrors = (report: RunReport) =>
  report.failures.filter((f) => f.code === 'ST101').flatMap((f) => f.operations);

describe('the API under an outside fuzzer (schemathesis)', () => {
  let stack: Stack;

  beforeAll(async () => {
    mkdirSync(REPORTS, { recursive: true });
    ensureSchemathesis();
    stack = await startStack({
      apiEnv: {
        RATE_LIMIT_PER_MINUTE: '0', // thousands of requests a minute from one key
        // Configured, so these routes answer from their code instead of 503 "not configured".
        VAPID_PUBLIC_KEY: generateVAPIDKeys().publicKey,
        TWILIO_AUTH_TOKEN: 'fuzz-twilio-token',
        PUBLIC_BASE_URL: 'https://herald.example.com',
      },
    });
    // What the document's examples name, so requests built from them get past "unknown recipient".
    const seed: [string, string, unknown][] = [
      ['PUT', '/v1/recipients/tech-42', { name: 'Tech 42', email: 'tech-42@example.com' }],
      ['PUT', '/v1/groups/technical-admin', { name: 'Technical Admin' }],
      ['PUT', '/v1/groups/system-admins', { name: 'System Admins' }],
      ['PUT', '/v1/groups/technical-admin/members/tech-42', undefined],
      ['PUT', '/v1/groups/system-admins/members/tech-42', undefined],
    ];
    for (const [method, urlPath, body] of seed)
      expect((await stack.api(method, urlPath, body)).status).toBeLessThan(300);
  }, 600_000);
  afterAll(async () => {
    await stack?.close();
  });

  it(
    'answers no generated request with a 5xx and matches its documented response schemas',
    async () => {
      const run = await fuzz(stack, 'tenant', stack.apiKey, [
        ...EXCLUDED.flatMap((op) => ['--exclude-name', op]),
        '--exclude-path-regex',
        OPERATOR_ROUTES,
      ]);
      console.log(summarize('tenant key', run));
      expect(run.report.errors).toEqual([]);
      expect(serverErrors(run.report)).toEqual([]);
      expect(run.report.failures).toEqual([]);
      expect(run.exitCode).toBe(0);
      // Every selected operation was exercised (a filter typo would quietly test less).
      expect(run.report.operations.tested).toBe(run.report.operations.selected);
      expect(run.report.operations.tested).toBeGreaterThanOrEqual(45);
      expect(run.report.test_cases.generated).toBeGreaterThan(1_000);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers no generated request to the operator routes with a 5xx',
    async () => {
      const { key } = await createKey(stack.db, null, ['operator']);
      const run = await fuzz(stack, 'operator', key, ['--include-path-regex', OPERATOR_ROUTES]);
      console.log(summarize('operator key', run));
      expect(run.report.errors).toEqual([]);
      expect(serverErrors(run.report)).toEqual([]);
      expect(run.report.failures).toEqual([]);
      expect(run.report.operations.tested).toBe(6);
    },
    TEST_TIMEOUT_MS,
  );

  it('is still ready afterwards', async () => {
    expect((await rawRequest(stack.baseUrl, 'GET', '/readyz')).status).toBe(200);
    expect((await stack.api('GET', '/v1/recipients?limit=1')).status).toBe(200);
  });
});
