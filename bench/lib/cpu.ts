/**
 * CPU time by process, from /proc (Linux). On a shared machine a rate moves with the CPU steal of
 * the moment; the CPU a notification costs in each process moves much less, so a lever shows in
 * it where it would drown in a rate's noise.
 */
import { readdir, readFile } from 'node:fs/promises';

/** USER_HZ: 100 on every Linux build Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: the children it has waited for, in ticks. */
  reaped: number;
}

async function statOf(pid: number): Promise<Stat | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i]);
    const parsed = { pid, ppid: n(1), own: n(11) + n(12), reaped: n(13) + n(14) };
    return Number.isFinite(parsed.own) && Number.isFinite(parsed.reaped) ? parsed : null;
  } catch {
    return null; // exited, or no /proc
  }
}

/** CPU seconds a process has used (user + system); null once it has exited or where there is no /proc. */
export async function cpuSecondsOf(pid: number): Promise<number | null> {
  const stat = await statOf(pid);
  return stat ? stat.own / CLOCK_TICKS_PER_SECOND : null;
}

/**
 * CPU seconds of a process and everything under it: its live descendants, and those that have
 * exited (each counted by the parent that waited for it). PostgreSQL's work is in its backends.
 */
export async function treeCpuSeconds(root: number): Promise<number | null> {
  let pids: number[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return null;
  }
  const stats = (await Promise.all(pids.map(statOf))).filter((s): s is Stat => s !== null);
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const top = stats.find((s) => s.pid === root);
  if (!top) return null;
  let ticks = 0;
  const queue = [top];
  for (let s = queue.pop(); s; s = queue.pop()) {
    ticks += s.own + s.reaped;
    queue.push(...(children.get(s.pid) ?? []));
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** The processes a row measures, by name; a part without a pid (or without /proc) is left out. */
export type CpuParts = Record<string, number | undefined>;

/** CPU seconds per part at one moment; the bench's own process (`self`) from Node. */
export type CpuSnapshot = Record<string, number>;

export async function cpuSnapshot(parts: CpuParts): Promise<CpuSnapshot> {
  const snapshot: CpuSnapshot = {};
  for (const [name, pid] of Object.entries(parts)) {
    const seconds = pid === undefined ? null : await treeCpuSeconds(pid);
    if (seconds !== null) snapshot[name] = seconds;
  }
  const self = process.cpuUsage();
  snapshot.bench = (self.user + self.system) / 1e6;
  return snapshot;
}

/** Milliseconds of CPU per unit (a notification, a workflow) in each part, and their sum. */
export interface CpuPerUnit {
  parts: Record<string, number>;
  total: number;
}

export function cpuPerUnit(before: CpuSnapshot, after: CpuSnapshot, units: number): CpuPerUnit {
  const parts: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(after)) {
    const start = before[name];
    if (start !== undefined && units > 0) parts[name] = ((seconds - start) * 1000) / units;
  }
  return { parts, total: Object.values(parts).reduce((sum, ms) => sum + ms, 0) };
}

/** `Temporal 20.1 + worker 17.9 + … = 52.3 ms`, largest first. */
export function describeCpu(cpu: CpuPerUnit): string {
  const parts = Object.entries(cpu.parts)
    .sort(([, a], [, b]) => b - a)
    .map(([name, ms]) => `${name} ${ms.toFixed(1)}`);
  return `${parts.join(' + ')} = ${cpu.total.toFixed(1)} ms`;
}
