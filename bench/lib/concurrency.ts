/** Runs work(0) … work(n-1) with at most `limit` in flight; resolves with the results in order. */
export async function inFlight<T>(n: number, limit: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
  return results;
}

/**
 * Open loop: request i leaves at start + i / rate whether or not earlier ones answered, and its
 * latency counts from when it was due, so a stall is not hidden by sending less. `send` resolves
 * true when the request was accepted; the latencies are the accepted ones'.
 */
export async function openLoop(
  total: number,
  rate: number,
  send: (i: number) => Promise<boolean>,
): Promise<{ latencies: number[]; failed: number; seconds: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      send(i).then(
        (ok) => (ok ? void latencies.push(performance.now() - due) : void failed++),
        () => void failed++,
      ),
    );
  }
  await Promise.all(pending);
  return { latencies, failed, seconds: secondsSince(start) };
}

/** Seconds since `start` (a performance.now() value). */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;

/** Rejects after `ms` with `what` in the message; the timer does not keep the process alive. */
export function deadline(ms: number, what: string): { promise: Promise<never>; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms / 60_000} min`)), ms);
    timer.unref();
  });
  promise.catch(() => undefined);
  return { promise, clear: () => clearTimeout(timer) };
}

/** An async iterable fed by push(): values in push order, finished by end(). */
export class Feed<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.items.length > 0) yield this.items.shift()!;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}
