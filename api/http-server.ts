import { maxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { serve, type ServerType } from '@hono/node-server';
import { HttpError } from './errors';

/**
 * Requests Node's HTTP parser refuses before the app sees them (a request line and headers larger
 * than `maxHeaderSize`, malformed HTTP) get the API's JSON error shape like every other refusal.
 * Node's own answer is a bare status line, written just before it destroys the socket: with the
 * rest of the request still unread the kernel sends a reset, which can discard that answer before
 * the client reads it (a fuzzer saw "connection reset" for a 24 KB query string).
 */

/** How long a refused connection may stay open for the client to read the answer and close. */
const LINGER_MS = 5_000;

interface ParserError extends Error {
  code?: string;
}

function refusalFor(error: ParserError, limit: number): HttpError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(431, 'headers_too_large', `request line and headers exceed ${limit} bytes`, [
        {
          path: 'headers',
          message: `the request line (with its query) and headers exceed ${limit} bytes`,
        },
      ]);
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HttpError(413, 'payload_too_large', 'chunk extensions too large', [
        { path: 'body', message: 'chunk extensions too large' },
      ]);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'request_timeout', 'the request was not received in time', [
        { path: 'request', message: 'not received in time' },
      ]);
    default:
      return new HttpError(400, 'malformed_request', 'the request is not valid HTTP/1.1', [
        { path: 'request', message: error.code ?? error.message },
      ]);
  }
}

/** Answers what the parser refuses in JSON, then reads on until the client closes (see above). */
export function answerParserErrors(server: Server): void {
  server.on('clientError', (error: ParserError, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refusal = refusalFor(error, maxHeaderSize);
    const body = JSON.stringify(refusal.toJSON());
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    // Draining what the client still sends (a data listener reads on) keeps the close a FIN, not a reset.
    socket.on('data', () => {});
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}

/** Serves an app the way the API process does (tests use it too, so they see the same answers). */
export function serveApp(
  app: { fetch: Parameters<typeof serve>[0]['fetch'] },
  options: { port: number; hostname: string },
  onListening?: (info: { port: number }) => void,
): ServerType {
  const server = serve({ fetch: app.fetch, ...options }, onListening);
  answerParserErrors(server as Server);
  return server;
}
