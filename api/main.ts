import { Client, Connection } from '@temporalio/client';
import { createPool } from '../db/pool';
import { TemplateRegistry } from '../templates/registry';
import { createApp } from './app';
import { loadApiConfig } from './config';
import { serveApp } from './http-server';
import { closeInboxStream } from './inbox-stream';

/** The API process: builds its dependencies once and serves. */
async function main(): Promise<void> {
  const config = loadApiConfig();
  const db = createPool(config.DATABASE_URL);
  const templates = await TemplateRegistry.load();
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const app = createApp({ db, temporal, templates, config });
  const server = serveApp(app, { port: config.PORT, hostname: config.HOST }, (info) => {
    console.log(
      JSON.stringify({
        msg: 'api listening',
        url: `http://${config.HOST}:${info.port}`,
        docs: `http://${config.HOST}:${info.port}/docs`,
      }),
    );
  });
  const stop = () => {
    // Live inbox streams never end by themselves: end them (and their LISTEN connection) so the server can close.
    void closeInboxStream(db);
    server.close();
    void connection.close().then(() => db.end());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
