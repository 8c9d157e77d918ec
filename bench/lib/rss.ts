import { readFile } from 'node:fs/promises';

/** A process's resident set size in bytes, from /proc (Linux); null once it has exited. */
async function rssOf(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

export interface RssSample {
  /** Seconds since sampling started. */
  t: number;
  rss: number;
  phase: string;
}

/** Samples a process's RSS every `everyMs`, labelled with the phase the benchmark is in. */
export class RssSampler {
  private readonly samples: RssSample[] = [];
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  phase = 'idle';

  constructor(
    private readonly pid: number,
    everyMs = 200,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
    this.timer.unref();
  }

  /** Takes a sample now (the timer takes the others). */
  async sample(): Promise<void> {
    const rss = await rssOf(this.pid);
    if (rss !== null)
      this.samples.push({ t: (performance.now() - this.started) / 1000, rss, phase: this.phase });
  }

  /** The largest sample of the given phases (all when none given); 0 without samples. */
  peak(...phases: string[]): number {
    const of = phases.length ? this.samples.filter((s) => phases.includes(s.phase)) : this.samples;
    return of.reduce((max, s) => Math.max(max, s.rss), 0);
  }

  /** One sample per `seconds` (the largest of each slot), for the JSON: does memory stay flat? */
  series(seconds = 5): RssSample[] {
    const slots = new Map<number, RssSample>();
    for (const s of this.samples) {
      const slot = Math.floor(s.t / seconds);
      const kept = slots.get(slot);
      if (!kept || s.rss > kept.rss) slots.set(slot, s);
    }
    return [...slots.values()];
  }

  /** The peaks of a phase's first and last quarter: a worker whose memory stays flat has them close. */
  quarters(phase: string): { first: number; last: number } | undefined {
    const of = this.samples.filter((s) => s.phase === phase);
    if (of.length < 8) return undefined;
    const quarter = Math.floor(of.length / 4);
    const peak = (list: RssSample[]) => list.reduce((max, s) => Math.max(max, s.rss), 0);
    return { first: peak(of.slice(0, quarter)), last: peak(of.slice(-quarter)) };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
