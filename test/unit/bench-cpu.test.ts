import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpuPerUnit, cpuSecondsOf, describeCpu, treeCpuSeconds } from '../../bench/lib/cpu';

/** Node burning `ms` of its own CPU (not of wall time, so steal cannot shorten it), then saying so. */
const burn = (ms: number) =>
  `const u=()=>{const c=process.cpuUsage();return (c.user+c.system)/1000};while(u()<${ms});console.log('burnt')`;

/** A shell whose stdout reaches `line`; the test measures it then, and kills it after. */
async function shellUntil(script: string, line: string): Promise<ChildProcess> {
  // A group of its own, so that the kill after reaches the nodes it started too.
  const shell = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  shell.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  while (!out.includes(line)) await once(shell.stdout!, 'data');
  return shell;
}

describe("the bench's CPU by process", () => {
  const running: ChildProcess[] = [];
  afterAll(() => running.forEach((p) => process.kill(-p.pid!, 'SIGKILL')));

  it('counts the descendants of a process, those that exited and those still running', async () => {
    const node = JSON.stringify(process.execPath);
    // The first node has exited (its shell waited for it); the second still runs (in the background,
    // so that the shell does not exec it in its own place).
    const shell = await shellUntil(
      `${node} -e "${burn(300)}"; echo first-done; ${node} -e "${burn(300)};setInterval(()=>{},1000)" & wait`,
      'burnt\nfirst-done\nburnt',
    );
    running.push(shell);
    const tree = await treeCpuSeconds(shell.pid!);
    const own = await cpuSecondsOf(shell.pid!);
    expect(tree).toBeGreaterThanOrEqual(0.58); // two burns of 0.3 s, at the kernel's 10 ms ticks
    expect(own).toBeLessThan(0.1); // the shell itself only waited
  });

  it('reads nothing for a process that is not there', async () => {
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    expect(await treeCpuSeconds(gone.pid!)).toBeNull();
    expect(await cpuSecondsOf(gone.pid!)).toBeNull();
  });

  it('gives milliseconds per unit for the parts measured at both ends, and their sum', () => {
    const cpu = cpuPerUnit(
      { API: 1, worker: 2, bench: 0.5 },
      { API: 1.5, worker: 4, bench: 0.6, late: 9 },
      100,
    );
    expect(cpu.parts).toEqual({ API: 5, worker: 20, bench: expect.closeTo(1, 6) as number });
    expect(cpu.total).toBeCloseTo(26, 6);
    expect(describeCpu(cpu)).toBe('worker 20.0 + API 5.0 + bench 1.0 = 26.0 ms');
  });
});
