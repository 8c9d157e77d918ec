import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHeraldClient, type HeraldSchema } from '../../clients/typescript/src';

interface Seen {
  method?: string;
  url?: string;
  authorization?: string;
  body: string;
}

const readBody = async (request: IncomingMessage) => {
  let body = '';
  for await (const chunk of request) body += chunk;
  return body;
};

/** A loopback server that records what the client sent and answers like the API. */
describe('createHeraldClient', () => {
  let server: Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      void readBody(request).then((body) => {
        seen.push({
          method: request.method,
          url: request.url,
          authorization: request.headers.authorization,
          body,
        });
        const notFound = request.url?.includes('missing');
        response.writeHead(notFound ? 404 : 202, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify(
            notFound
              ? { error: { code: 'not_found', message: 'notification missing not found', details: [] } }
              : { id: '3f0c1a52-0c9c-4d2a-9a57-1b2f9e1e4c11', status: 'running' },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the bearer token, the JSON body and the path parameters', async () => {
    const herald = createHeraldClient({ baseUrl, token: 'hk_test' });
    const body: HeraldSchema<'NotificationRequest'> = {
      event: 'ticket.assigned',
      to: { emails: ['ops@example.com'] },
      data: { ticketId: '42' },
    };
    const created = await herald.POST('/v1/notifications', {
      body,
      params: { header: { 'idempotency-key': 'k-1' } },
    });
    expect(created.response.status).toBe(202);
    expect(created.data?.id).toBe('3f0c1a52-0c9c-4d2a-9a57-1b2f9e1e4c11');
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/v1/notifications',
      authorization: 'Bearer hk_test',
    });
    expect(JSON.parse(seen[0]!.body)).toEqual(body);

    const missing = await herald.GET('/v1/notifications/{id}', { params: { path: { id: 'missing' } } });
    expect(missing.data).toBeUndefined();
    expect(missing.error?.error.code).toBe('not_found');
    expect(seen[1]).toMatchObject({ method: 'GET', url: '/v1/notifications/missing' });
  });

  it('refuses, at compile time, calls the document does not allow', () => {
    const herald = createHeraldClient({ baseUrl, token: 'hk_test' });
    // Not called: these lines only have to fail to type-check (tsc --noEmit runs in CI).
    const calls = [
      // @ts-expect-error `event` is required
      () => herald.POST('/v1/notifications', { body: { to: { emails: ['ops@example.com'] } } }),
      // @ts-expect-error no such route
      () => herald.GET('/v1/notification'),
      // @ts-expect-error the path needs its {id}
      () => herald.GET('/v1/notifications/{id}', {}),
      // @ts-expect-error priority is one of low, normal, high, critical
      () => herald.POST('/v1/notifications', { body: { event: 'x', priority: 'urgent' } }),
    ];
    expect(calls).toHaveLength(4);
  });
});
