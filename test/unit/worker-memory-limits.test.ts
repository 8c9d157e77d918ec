import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { WORKER_NODE_FLAGS } from '../../worker/memory-limits';

// package.json and docker-compose.yml cannot import the flags: they carry copies, kept equal here.
const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe("the worker's V8 heap limits (worker/memory-limits.ts)", () => {
  test('npm run worker passes them to node before the entry point', () => {
    const script = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.worker!;
    expect(script).toBe(`node ${WORKER_NODE_FLAGS.join(' ')} --import tsx worker/main.ts`);
  });

  test("docker-compose.yml's worker runs with them", () => {
    const compose = YAML.parse(read('docker-compose.yml')) as {
      services: Record<string, { command?: string[] }>;
    };
    expect(compose.services.worker!.command).toEqual([
      'node',
      ...WORKER_NODE_FLAGS,
      '--import',
      'tsx',
      'worker/main.ts',
    ]);
  });

  test('they are flags node takes: a process started with them runs', () => {
    const out = execFileSync(
      process.execPath,
      [...WORKER_NODE_FLAGS, '-e', 'console.log(require("v8").getHeapStatistics().heap_size_limit)'],
      {
        encoding: 'utf8',
      },
    );
    // The old-space cap shows in the heap limit (old space plus the young generation).
    expect(Number(out.trim()) / 2 ** 20).toBeLessThan(256);
  });
});
