import { newDevice, type PushService } from './support/push-service';
import { startStackWithProviders, type ProviderStack } from './support/providers';
import { uniq, waitForNotification, type Stack } from './support/stack';
import { twilioError, type TwilioDouble } from './support/twilio-double';

type Expect = { status: string; error?: string | RegExp; address?: string };

interface Case {
  name: string;
  own?: object;
  group?: object;
  priority?: string;
  event?: 'ticket.assigned' | 'job.failed';
  data?: Record<string, unknown>;
  email: Expect;
  inapp: Expect;
}

const job = { jobName: 'nightly', error: 'timeout' };
const override = 'pager@example.com';

/** The documented resolution order (common/preferences.ts, README), end to end through the API. */
const matrix: Case[] = [
  { name: 'no preferences: everything goes', email: { status: 'sent' }, inapp: { status: 'sent' } },
  {
    name: 'event opt-out',
    own: { events: { 'ticket.assigned': { enabled: false } } },
    email: { status: 'suppressed', error: 'opted out of ticket.assigned' },
    inapp: { status: 'suppressed', error: 'opted out of ticket.assigned' },
  },
  {
    name: 'event opt-out, critical',
    own: { events: { 'ticket.assigned': { enabled: false } } },
    priority: 'critical',
    email: { status: 'sent' },
    inapp: { status: 'sent' },
  },
  {
    name: 'channel opt-out',
    own: { channels: { email: false } },
    email: { status: 'suppressed', error: 'opted out of email' },
    inapp: { status: 'sent' },
  },
  {
    name: 'channel opt-out, critical',
    own: { channels: { email: false } },
    priority: 'critical',
    email: { status: 'sent' },
    inapp: { status: 'sent' },
  },
  {
    name: 'per-event channel opt-out',
    own: { events: { 'ticket.assigned': { channels: { inapp: false } } } },
    email: { status: 'sent' },
    inapp: { status: 'suppressed', error: /opted out of inapp for ticket.assigned/ },
  },
  {
    name: 'category opt-out',
    own: { events: { 'category:tickets': { enabled: false } } },
    email: { status: 'suppressed', error: 'opted out of category tickets' },
    inapp: { status: 'suppressed', error: 'opted out of category tickets' },
  },
  {
    name: 'email override',
    own: { emailOverride: override },
    email: { status: 'sent', address: override },
    inapp: { status: 'sent' },
  },
  {
    name: 'email override, critical',
    own: { emailOverride: override, events: { 'ticket.assigned': { enabled: false } } },
    priority: 'critical',
    email: { status: 'sent', address: override },
    inapp: { status: 'sent' },
  },
  {
    name: 'attribute filter matches',
    own: { events: { 'job.failed': { filters: { jobType: ['backup', 'sync'] } } } },
    event: 'job.failed',
    data: { ...job, jobType: 'backup' },
    email: { status: 'sent' },
    inapp: { status: 'sent' },
  },
  {
    name: 'attribute filter does not match',
    own: { events: { 'job.failed': { filters: { jobType: ['backup', 'sync'] } } } },
    event: 'job.failed',
    data: { ...job, jobType: 'discovery' },
    email: { status: 'suppressed', error: /^filtered out: jobType/ },
    inapp: { status: 'suppressed', error: /^filtered out: jobType/ },
  },
  {
    name: 'attribute filter does not match, critical',
    own: { events: { 'job.failed': { filters: { jobType: ['backup'] } } } },
    event: 'job.failed',
    data: { ...job, jobType: 'discovery' },
    priority: 'critical',
    email: { status: 'sent' },
    inapp: { status: 'sent' },
  },
  {
    name: 'group default opts out',
    group: { events: { 'ticket.assigned': { enabled: false } } },
    email: { status: 'suppressed', error: /opted out of ticket.assigned \(group default\)/ },
    inapp: { status: 'suppressed', error: /group default/ },
  },
  {
    name: 'group default for the event beats the recipient muting its category (admins get every failure)',
    own: { events: { 'category:jobs': { enabled: false } } },
    group: { events: { 'job.failed': { enabled: true } } },
    event: 'job.failed',
    data: job,
    email: { status: 'sent' },
    inapp: { status: 'sent' },
  },
  {
    name: "the recipient's own event rule beats the group default",
    own: { events: { 'ticket.assigned': { enabled: true } } },
    group: { events: { 'ticket.assigned': { enabled: false } } },
    email: { status: 'sent' },
    inapp: { status: 'sent' },
  },
];

describe('recipient policies, end to end', () => {
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

  type DeliveryState = {
    channel: string;
    status: string;
    error: string | null;
    address: string;
    failoverFrom: string | null;
  };
  const byChannel = (view: {
    recipients: { deliveries: DeliveryState[] }[];
  }): Record<string, DeliveryState> =>
    Object.fromEntries(view.recipients[0]!.deliveries.map((d) => [d.channel, d]));

  it.each(matrix)('$name', async (c) => {
    const id = uniq('pref');
    const email = `${id}@example.com`;
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name: 'P', email })).status).toBe(201);
    if (c.own) expect((await stack.api('PUT', `/v1/recipients/${id}/preferences`, c.own)).status).toBe(200);
    if (c.group) {
      const key = uniq('prefgroup');
      await stack.api('PUT', `/v1/groups/${key}`, { name: `Prefs ${key}` });
      await stack.api('PUT', `/v1/groups/${key}/members/${id}`);
      expect((await stack.api('PUT', `/v1/groups/${key}/preferences`, c.group)).status).toBe(200);
    }
    const event = c.event ?? 'ticket.assigned';
    const created = await stack.api('POST', '/v1/notifications', {
      event,
      to: { recipients: [id] },
      data: c.data ?? { ticketId: '7', title: 'Matrix' },
      priority: c.priority ?? 'normal',
      channels: ['email', 'inapp'],
    });
    expect(created.status).toBe(202);
    const states = byChannel(await waitForNotification(stack, created.body.id));
    for (const channel of ['email', 'inapp'] as const) {
      const expected = c[channel];
      expect(states[channel]!.status).toBe(expected.status);
      if (expected.error) expect(states[channel]!.error).toMatch(expected.error);
    }
    if (c.email.address) expect(states.email!.address).toBe(c.email.address);
    const delivered = stack.sink.messages().filter((m) => m.messageId.startsWith(`<${created.body.id}.`));
    expect(delivered.map((m) => m.envelopeTo[0])).toEqual(
      c.email.status === 'sent' ? [c.email.address ?? email] : [],
    );
  });

  it('turns an event the recipient takes as a digest into a digest item, except when critical', async () => {
    const id = uniq('digest');
    await stack.api('PUT', `/v1/recipients/${id}`, {
      email: `${id}@example.com`,
      digest: { events: ['ticket.assigned'], frequency: 'daily', hour: 8 },
    });
    const send = (priority: string) =>
      stack.api('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to: { recipients: [id] },
        data: { ticketId: '8', title: 'Digest me' },
        priority,
        channels: ['email', 'inapp'],
      });
    const normal = await waitForNotification(stack, (await send('normal')).body.id);
    expect(byChannel(normal).email).toMatchObject({ status: 'digested', error: 'in the next digest' });
    expect(byChannel(normal).inapp).toMatchObject({ status: 'sent' });
    const items = await stack.db.query(
      'SELECT event, channel, sent_at FROM digest_items WHERE external_id = $1',
      [id],
    );
    expect(items.rows).toEqual([{ event: 'ticket.assigned', channel: 'email', sent_at: null }]);
    const critical = await waitForNotification(stack, (await send('critical')).body.id);
    expect(byChannel(critical).email).toMatchObject({ status: 'sent' });
  });

  it('fails over push → SMS → email when each fails for good, and the log shows the chain', async () => {
    const id = uniq('failover');
    const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await stack.api('PUT', `/v1/recipients/${id}`, {
      email: `${id}@example.com`,
      phone,
      failover: ['push', 'sms', 'email'],
    });
    await stack.api(
      'POST',
      `/v1/recipients/${id}/push-subscriptions`,
      newDevice(`${pushService.origin}/push/${id}`).json,
    );
    pushService.script(`/push/${id}`, [{ status: 410 }]);
    twilio.script(phone, {
      status: 400,
      body: twilioError(21211, "The 'To' number is not a valid phone number.", 400),
    });
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '9', title: 'Failover' },
      channels: ['push', 'sms', 'email'],
    });
    const view = await waitForNotification(stack, created.body.id);
    const states = byChannel(view);
    expect(states.push).toMatchObject({ status: 'failed', failoverFrom: null });
    expect(states.sms).toMatchObject({
      status: 'failed',
      failoverFrom: 'push',
      error: expect.stringContaining('21211'),
    });
    expect(states.email).toMatchObject({ status: 'sent', failoverFrom: 'sms' });
    expect(stack.sink.messages().filter((m) => m.messageId.startsWith(`<${created.body.id}.`))).toHaveLength(
      1,
    );
  });

  it('fails over from push to SMS when push fails for good, and stops there when SMS goes out', async () => {
    const id = uniq('pushtosms');
    const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await stack.api('PUT', `/v1/recipients/${id}`, {
      email: `${id}@example.com`,
      phone,
      failover: ['push', 'sms', 'email'],
    });
    await stack.api(
      'POST',
      `/v1/recipients/${id}/push-subscriptions`,
      newDevice(`${pushService.origin}/push/${id}`).json,
    );
    pushService.script(`/push/${id}`, [{ status: 404 }]);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '11', title: 'Push then SMS' },
      channels: ['push', 'sms', 'email'],
    });
    const states = byChannel(await waitForNotification(stack, created.body.id));
    expect(states.push).toMatchObject({ status: 'failed' });
    expect(states.sms).toMatchObject({ status: 'sent', failoverFrom: 'push' });
    expect(states.email).toMatchObject({ status: 'skipped', error: 'failover standby (after push)' });
    expect(twilio.to(phone)).toHaveLength(1);
  });

  it('uses only the first channel of the chain when it works', async () => {
    const id = uniq('firstlink');
    const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await stack.api('PUT', `/v1/recipients/${id}`, {
      email: `${id}@example.com`,
      phone,
      failover: ['sms', 'email'],
    });
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '10', title: 'First link' },
      channels: ['sms', 'email'],
    });
    const states = byChannel(await waitForNotification(stack, created.body.id));
    expect(states.sms).toMatchObject({ status: 'sent' });
    expect(states.email).toMatchObject({ status: 'skipped', error: 'failover standby (after sms)' });
  });
});
