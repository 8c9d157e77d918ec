import type { Measurement } from '../../bench/lib/report';
import { bracketCeiling } from '../../bench/rows/ceiling-bracket';

const m = (key: Measurement['key'], value: number, details?: Record<string, unknown>): Measurement => ({
  key,
  label: key,
  n: 1000,
  seconds: 1000 / value,
  value,
  unit: 'u',
  notes: 'first run',
  details,
});

describe('the ceiling bracketing Herald’s single row', () => {
  const before = [
    m('ceiling.completed', 56),
    m('ceiling.starts', 150),
    m('ceiling.cpu', 30, { cpuMs: { Temporal: 18, worker: 10, bench: 2 } }),
    m('ceiling.fixed', 140),
  ];
  const after = [
    m('ceiling.completed', 44),
    m('ceiling.starts', 130),
    m('ceiling.cpu', 36, { cpuMs: { Temporal: 22, worker: 12, bench: 2 } }),
  ];
  const merged = bracketCeiling(before, after);
  const of = (key: string) => merged.find((x) => x.key === key)!;

  it('takes the mean of the two runs, and says both', () => {
    expect(of('ceiling.completed').value).toBe(50);
    expect(of('ceiling.completed').n).toBe(2000);
    expect(of('ceiling.completed').notes).toContain('56.0 and 44.0');
    expect(of('ceiling.starts').value).toBe(140);
  });

  it('averages CPU each process by process', () => {
    const cpu = of('ceiling.cpu');
    expect(cpu.value).toBe(33);
    expect(cpu.details?.cpuMs).toEqual({ Temporal: 20, worker: 11, bench: 2 });
    expect(cpu.notes).toMatch(/^Temporal 20\.0 \+ worker 11\.0 \+ bench 2\.0 = 33\.0 ms, mean of the runs/);
  });

  it('keeps what the second run did not measure, and keeps the order', () => {
    expect(merged.map((x) => x.key)).toEqual(before.map((x) => x.key));
    expect(of('ceiling.fixed')).toBe(before[3]);
  });
});
