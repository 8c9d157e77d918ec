import { decrypt, expectValidVapid, newDevice, type PushService } from './support/push-service';
import { startStackWithProviders, type ProviderStack } from './support/providers';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import type { TwilioDouble } from './support/twilio-double';

/** One notification, four channels, each through its real wire format on loopback. */
describe('one notification on email, push, SMS and in-app', () => {
  let stack: Stack;
  let pushService: PushService;
  let twilio: TwilioDouble;
  let providers: ProviderStack;
  beforeAll(async () => {
    providers = await startStackWithProviders();
    ({ stack, pushService, twilio } = providers);
  });
  afterAll(async () => {
    await providers?.close();
  });

  it('delivers on all four and GET shows each channel’s state', async () => {
    const id = uniq('four');
    const email = `${id}@example.com`;
    const phone = `+2637${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
    expect(
      (await stack.api('PUT', `/v1/recipients/${id}`, { name: 'Tendai Moyo', email, phone })).status,
    ).toBe(201);
    const device = newDevice(`${pushService.origin}/push/${id}`);
    expect((await stack.api('POST', `/v1/recipients/${id}/push-subscriptions`, device.json)).status).toBe(
      201,
    );

    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '4242', title: 'Core switch down' },
      channels: ['email', 'push', 'sms', 'inapp'],
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id);
    expect(view.status).toBe('completed');
    const states = Object.fromEntries(
      view.recipients[0].deliveries.map((d: { channel: string; status: string }) => [d.channel, d]),
    );
    expect(Object.keys(states).sort()).toEqual(['email', 'inapp', 'push', 'sms']);
    for (const channel of ['email', 'inapp', 'push', 'sms']) {
      expect(states[channel]).toMatchObject({
        status: 'sent',
        attempts: 1,
        error: null,
        providerMessageId: expect.any(String),
      });
    }

    // Email: in the SMTP server.
    expect(
      stack.sink
        .messages()
        .filter((m) => m.envelopeTo.includes(email))
        .map((m) => m.subject),
    ).toEqual(['[#4242] Assigned to you: Core switch down']);
    // Push: VAPID verifies and the body decrypts to the rendered card.
    const [push] = pushService.requestsTo(`/push/${id}`);
    expectValidVapid(push!.headers.authorization, pushService.origin);
    expect(decrypt(push!, device)).toMatchObject({ title: expect.stringContaining('4242') });
    // SMS: Twilio got the number and the rendered text.
    expect(twilio.to(phone).map((r) => r.fields.Body)).toEqual([expect.stringContaining('4242')]);
    expect(states.sms.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
    // In-app: in the recipient's inbox.
    const inbox = await stack.api('GET', `/v1/recipients/${id}/inbox`);
    expect(inbox.body.items).toEqual([
      expect.objectContaining({ id: states.inapp.providerMessageId, readAt: null }),
    ]);
  });

  it('records a channel with no address as skipped with the reason, while the others deliver', async () => {
    const id = uniq('partial');
    expect(
      (await stack.api('PUT', `/v1/recipients/${id}`, { name: 'No Phone', email: `${id}@example.com` }))
        .status,
    ).toBe(201);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '1', title: 'x' },
      channels: ['email', 'sms', 'push'],
    });
    const view = await waitForNotification(stack, created.body.id);
    const states = Object.fromEntries(
      view.recipients[0].deliveries.map((d: { channel: string }) => [d.channel, d]),
    );
    expect(states.email).toMatchObject({ status: 'sent' });
    expect(states.sms).toMatchObject({ status: 'skipped', error: 'no phone number' });
    expect(states.push).toMatchObject({ status: 'skipped', error: 'no push subscription' });
  });
});

describe('a channel whose settings are missing', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is skipped with the missing variable named, never a crash, while email delivers', async () => {
    const id = uniq('unconfigured');
    await stack.api('PUT', `/v1/recipients/${id}`, { email: `${id}@example.com`, phone: '+263771234567' });
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'job.failed',
      to: { recipients: [id] },
      data: { jobName: 'nightly', error: 'disk full' },
      channels: ['email', 'sms'],
    });
    const view = await waitForNotification(stack, created.body.id);
    expect(view.status).toBe('completed');
    const states = Object.fromEntries(
      view.recipients[0].deliveries.map((d: { channel: string }) => [d.channel, d]),
    );
    expect(states.email).toMatchObject({ status: 'sent' });
    expect(states.sms).toMatchObject({
      status: 'skipped',
      error: expect.stringMatching(/TWILIO_ACCOUNT_SID.*not set/),
    });
  });
});
