/**
 * The counting SMTP sink in a process of its own, so that no sender measured by the benchmark shares
 * its event loop with the receiving end. Says `{"ready":…,"url":…}` on stdout, then answers
 * `{id}` messages on the IPC channel with the number of mails accepted so far.
 */
import { startMailSink } from '../../scripts/lib/mail-sink';

async function main(): Promise<void> {
  const sink = await startMailSink({ countOnly: true });
  process.on('message', (message: { id: number }) => {
    process.send?.({ id: message.id, count: sink.receivedCount() });
  });
  const stop = () => void sink.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  console.log(JSON.stringify({ ready: true, url: sink.url }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
