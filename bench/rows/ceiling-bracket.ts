/**
 * P1's anchor, fairly placed: the ceiling runs once before Herald's single row and once after it
 * (bench/main.ts), and this makes the two runs one.
 */
import { describeCpu } from '../lib/cpu';
import type { Measurement } from '../lib/report';

/** The ceiling's measurements that a second run (`again`) brackets Herald's single row with. */
const BRACKETED = ['ceiling.completed', 'ceiling.starts', 'ceiling.cpu'] as const;

/**
 * The ceiling before and after Herald's single row, as one. The server and the machine drift during
 * a run (the dev server's database fills, CPU steal comes and goes): a ceiling measured on one side
 * of Herald's row carries that drift into P1, and one measured on both sides cancels a steady drift.
 * On 2026-12-04 the two runs gave 54.1/56.6, 57.9/58.1 and 61.0/54.6 completed/s, and in one run with
 * the rows swapped the ceiling ran at 45/s after Herald against 53–59/s before it in the others.
 * Rates are the mean of the two runs' rates, CPU each the mean of theirs, process by process.
 */
export function bracketCeiling(before: Measurement[], after: Measurement[]): Measurement[] {
  return before.map((first) => {
    const second = after.find((m) => m.key === first.key);
    if (!second || !(BRACKETED as readonly string[]).includes(first.key)) return first;
    const value = (first.value + second.value) / 2;
    const both = `runs before and after Herald's single row: ${first.value.toFixed(1)} and ${second.value.toFixed(1)}`;
    if (first.key !== 'ceiling.cpu') {
      return {
        ...first,
        n: first.n + second.n,
        seconds: first.seconds + second.seconds,
        value,
        notes: `${first.notes}; mean of the ${both}`,
        details: { ...first.details, before: first.value, after: second.value },
      };
    }
    const partsOf = (m: Measurement) => (m.details?.cpuMs ?? {}) as Record<string, number>;
    const [a, b] = [partsOf(first), partsOf(second)];
    const parts = Object.fromEntries(
      [...new Set([...Object.keys(a), ...Object.keys(b)])].map((name) => [
        name,
        ((a[name] ?? 0) + (b[name] ?? 0)) / 2,
      ]),
    );
    return {
      ...first,
      n: first.n + second.n,
      seconds: first.seconds + second.seconds,
      value,
      notes: `${describeCpu({ parts, total: value })}, mean of the ${both}; bench: the process starting them`,
      details: { cpuMs: parts, before: first.details, after: second.details },
    };
  });
}
