/**
 * Development mail sink: `tsx scripts/mail-sink.ts`. Accepts Herald's SMTP on SMTP_SINK_PORT
 * (default 1025) and shows the received mail on MAIL_VIEW_PORT (default 8025).
 */
import { startMailSink } from './lib/mail-sink';

function portFromEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number between 0 and 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

async function main(): Promise<void> {
  const sink = await startMailSink({
    smtpPort: portFromEnv('SMTP_SINK_PORT', 1025),
    httpPort: portFromEnv('MAIL_VIEW_PORT', 8025),
  });
  console.log(`SMTP sink on ${sink.url}, mail view on ${sink.webUrl ?? '(disabled)'}`);

  const shutdown = (): void => {
    sink.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('mail sink: error while closing', error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error('mail sink: could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
