import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderTeamsCard, teamsEscape, teamsMessage } from '../activities/channels/webhook/teams';
import { TemplateRegistry, type RenderContext } from '../templates/registry';
import { TEST_SECRET_KEY } from './support/auth';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver standing in for a Teams Workflows webhook: records, answers 202 as Teams does. */
async function startTeamsReceiver() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    route() {
      const path = `/workflows/${uniq('teams')}`;
      return { url: `${base}${path}`, requests: () => received.filter((r) => r.path === path) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the Microsoft Teams webhook preset', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startTeamsReceiver>>;

  beforeAll(async () => {
    receiver = await startTeamsReceiver();
    stack = await startStack({
      channelEnv: { HERALD_SECRET_KEY: TEST_SECRET_KEY, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
      apiEnv: { HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const newRecipient = async () => {
    const id = uniq('teams-user');
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name: 'Rudo' })).status).toBe(201);
    return id;
  };

  it('posts an Adaptive Card 1.4 built from the push card, unsigned, with an Open button and data escaped', async () => {
    const recipient = await newRecipient();
    const hook = receiver.route();
    const created = await stack.api('POST', '/v1/webhook-endpoints', {
      url: hook.url,
      recipient,
      preset: 'teams',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ preset: 'teams', secret: null, secrets: [] });

    const sent = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [recipient] },
      channels: ['webhook'],
      data: { ticketId: '88', title: 'Disk _full_ [now]', url: 'https://helpdesk.example.com/tickets/88' },
    });
    expect(sent.status).toBe(202);
    const view = await waitForNotification(stack, sent.body.id);
    expect(view.recipients[0].deliveries).toEqual([
      expect.objectContaining({ channel: 'webhook', status: 'sent', attempts: 1 }),
    ]);

    const [request] = hook.requests();
    expect(hook.requests()).toHaveLength(1);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['webhook-signature']).toBeUndefined();
    const message = JSON.parse(request!.body);
    expect(message).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              {
                type: 'TextBlock',
                text: '#88 assigned: Disk \\_full\\_ \\[now\\]',
                weight: 'Bolder',
                size: 'Medium',
                wrap: true,
              },
              {
                type: 'TextBlock',
                text: 'Ticket #88 Disk \\_full\\_ \\[now\\] was assigned to you.',
                wrap: true,
              },
            ],
            actions: [
              { type: 'Action.OpenUrl', title: 'Open', url: 'https://helpdesk.example.com/tickets/88' },
            ],
          },
        },
      ],
    });
  });

  it('refuses a signing secret for Teams, has none to rotate, and keeps the URL rules', async () => {
    const hook = receiver.route();
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const withSecret = await stack.api('POST', '/v1/webhook-endpoints', {
      url: hook.url,
      preset: 'teams',
      secret,
    });
    expectError(withSecret, 400, 'validation_failed');
    expect(withSecret.body.error.details).toEqual([
      { path: 'secret', message: 'Teams endpoints are not signed: omit secret' },
    ]);
    for (const url of [
      'http://example.com/workflows/x',
      'https://10.1.2.3/workflows/x',
      'https://[fd00::1]/x',
    ]) {
      const refused = await stack.api('POST', '/v1/webhook-endpoints', { url, preset: 'teams' });
      expectError(refused, 422, 'validation_failed');
      expect(refused.body.error.details.map((d: { path: string }) => d.path)).toEqual(['url']);
    }

    const recipient = await newRecipient();
    const created = await stack.api('POST', '/v1/webhook-endpoints', {
      url: hook.url,
      recipient,
      preset: 'teams',
    });
    expect(created.status).toBe(201);
    const rotated = await stack.api('POST', `/v1/webhook-endpoints/${created.body.id}/rotate-secret`);
    expectError(rotated, 409, 'not_signed');
    expect((await stack.api('GET', `/v1/webhook-endpoints/${created.body.id}`)).body.preset).toBe('teams');
  });
});

describe('the Teams card', () => {
  let templates: TemplateRegistry;
  beforeAll(async () => {
    templates = await TemplateRegistry.load();
  });
  const context: RenderContext = {
    data: { ticketId: '5', title: 'VPN down' },
    recipient: { name: null, email: null, externalId: null },
    brand: { name: 'Herald' },
    notification: { id: 'n', event: 'ticket.assigned', priority: 'normal' },
  };
  const without = (...channels: string[]) =>
    Object.assign(Object.create(templates) as TemplateRegistry, {
      supports: (event: string, channel: string) =>
        !channels.includes(channel) && templates.supports(event, channel as never),
    });

  it('falls back to the in-app card, then to the email subject with the SMS text', () => {
    expect(renderTeamsCard(without('push'), 'ticket.assigned', context)).toEqual({
      teamsCard: {
        title: 'Ticket #5 assigned to you',
        body: 'Ticket #5 VPN down has been assigned to you.',
        url: null,
      },
      teamsCardProblem: null,
    });
    expect(renderTeamsCard(without('push', 'inapp'), 'ticket.assigned', context)).toEqual({
      teamsCard: {
        title: '[#5] Assigned to you: VPN down',
        body: 'Herald: Ticket #5 VPN down assigned to you.',
        url: null,
      },
      teamsCardProblem: null,
    });
    expect(renderTeamsCard(templates, 'no.such.event', context)).toEqual({
      teamsCard: null,
      teamsCardProblem: 'no.such.event has no template',
    });
    // A missing required variable is kept as the reason, for the Teams send to report.
    const broken = renderTeamsCard(templates, 'ticket.assigned', { ...context, data: {} });
    expect(broken.teamsCard).toBeNull();
    expect(broken.teamsCardProblem).toMatch(/ticketId/);
  });

  it('has no button without an http(s) link, and escapes what Markdown would read', () => {
    const content = teamsMessage({ title: '- not a list', body: '', url: 'javascript:alert(1)' })
      .attachments[0]!.content;
    expect(content.actions).toBeUndefined();
    expect(content.body).toEqual([
      { type: 'TextBlock', text: '\\- not a list', weight: 'Bolder', size: 'Medium', wrap: true },
    ]);
    expect(teamsEscape('**bold** `code` <https://x.example> ~~gone~~ 2. two')).toBe(
      '\\*\\*bold\\*\\* \\`code\\` \\<https://x.example\\> \\~\\~gone\\~\\~ 2. two',
    );
    expect(teamsEscape('1. first')).toBe('1\\. first');
  });
});
