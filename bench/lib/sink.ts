import { startTsChild, type RunningChild } from './children';

export interface SinkProcess {
  /** Plain SMTP on loopback: `?tls=off`, or Herald's STARTTLS requirement refuses it. */
  url: string;
  pid: number;
  /** Mails the sink has accepted since it started. */
  count(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts bench/processes/sink.ts and talks to it over IPC. */
export async function startSinkProcess(baseEnv: Record<string, string>): Promise<SinkProcess> {
  const child: RunningChild = await startTsChild({
    script: 'bench/processes/sink.ts',
    env: baseEnv,
    ipc: true,
    ready: (line) => line.startsWith('{"ready":true'),
  });
  const { url } = JSON.parse(child.readyLine) as { url: string };
  const waiting = new Map<number, (count: number) => void>();
  let next = 0;
  child.process.on('message', (message: { id: number; count: number }) => {
    waiting.get(message.id)?.(message.count);
    waiting.delete(message.id);
  });
  return {
    url: `${url}?tls=off`,
    pid: child.pid,
    count: () =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        child.process.send({ id });
      }),
    stop: child.stop,
  };
}
