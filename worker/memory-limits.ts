/**
 * The V8 heap limits the worker process is started with (node flags, before `--import tsx`): every
 * launcher passes them — `npm run worker`, `npm run dev`, docker-compose.yml, the bench, the tests'
 * worker processes (test/unit/worker-memory-limits.test.ts keeps the two text copies in step).
 *
 * Why: without them V8 sizes each isolate (the main thread and the workflow thread) for a large
 * machine. Its young generation takes 3 × 16 MB per isolate and old space grows lazily under the
 * worker's allocation rate, so 1,000 single notifications took the worker to 412–429 MB of RSS
 * holding about 80 MB live. With these limits the bench's Herald rows peak at about 308 MB at the same
 * throughput. 192 MB of old space per isolate is over twice the live heap measured at any point
 * of the bench, the 1,000,000-recipient fan-out included: send state lives in PostgreSQL, not here.
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=192', '--max-semi-space-size=4'] as const;
