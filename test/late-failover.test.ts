import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import {
  ACCOUNT_SID,
  AUTH_TOKEN,
  CALLBACK_URL,
  PUBLIC_BASE_URL,
  SMS_FROM,
  TwilioDouble,
  twilioSignature,
  WHATSAPP_FROM,
} from './support/twilio-double';

const sign = (params: Record<string, string>) => twilioSignature(CALLBACK_URL, params);

const phone = () => `+2637${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

/**
 * Twilio accepts an SMS (the send succeeds, the chain stops there) and reports later, through the
 * status callback, that it never arrived: the recipient's next failover channel must still go out.
 */
describe('a provider failure after the send wakes the failover chain', () => {
  const twilioApi = new TwilioDouble();
  let stack: Stack;

  beforeAll(async () => {
    await twilioApi.start();
    stack = await startStack({
      channelEnv: {
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_FROM: SMS_FROM,
        TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
        TWILIO_API_BASE_URL: twilioApi.url,
        PUBLIC_BASE_URL,
      },
      apiEnv: { TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await twilioApi.close();
  });

  const callback = (sid: string, status: string) => {
    const params = {
      AccountSid: ACCOUNT_SID,
      MessageSid: sid,
      MessageStatus: status,
      ...(status === 'undelivered'
        ? { ErrorCode: '30003', ErrorMessage: 'Unreachable destination handset' }
        : {}),
    };
    return fetch(`${stack.baseUrl}/v1/providers/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(params) },
      body: new URLSearchParams(params).toString(),
    });
  };

  async function notifyWithChain() {
    const id = uniq('late');
    const email = `${id}@example.com`;
    const number = phone();
    const put = await stack.api('PUT', `/v1/recipients/${id}`, {
      email,
      phone: number,
      failover: ['sms', 'email'],
    });
    expect(put.status).toBe(201);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '31', title: 'Generator offline' },
      channels: ['sms', 'email'],
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id);
    const byChannel = Object.fromEntries(
      view.recipients[0].deliveries.map((d: { channel: string }) => [d.channel, d]),
    );
    return { notificationId: created.body.id as string, email, number, byChannel };
  }

  const mailsTo = (email: string) => stack.sink.messages().filter((m) => m.envelopeTo.includes(email));

  async function deliveriesOf(notificationId: string) {
    const { rows } = await stack.db.query<{ channel: string; status: string; error: string | null }>(
      'SELECT channel, status, error FROM deliveries WHERE notification_id = $1 ORDER BY channel',
      [notificationId],
    );
    return Object.fromEntries(rows.map((r) => [r.channel, r]));
  }

  it('an `undelivered` callback for a sent SMS sends the email standby, once', async () => {
    const sent = await notifyWithChain();
    expect(sent.byChannel.sms).toMatchObject({ status: 'sent' });
    expect(sent.byChannel.email).toMatchObject({
      status: 'skipped',
      error: expect.stringContaining('standby'),
    });
    expect(mailsTo(sent.email)).toHaveLength(0);

    const sid = sent.byChannel.sms.providerMessageId as string;
    expect((await callback(sid, 'sent')).status).toBe(204);
    expect((await callback(sid, 'undelivered')).status).toBe(204);
    // A replay of the same callback starts nothing more.
    expect((await callback(sid, 'undelivered')).status).toBe(204);

    await stack.sink.waitFor(() => mailsTo(sent.email).length >= 1, 30_000);
    const deadline = Date.now() + 30_000;
    let rows = await deliveriesOf(sent.notificationId);
    while (rows.email?.status !== 'sent' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      rows = await deliveriesOf(sent.notificationId);
    }
    expect(rows.sms).toMatchObject({ status: 'failed', error: expect.stringContaining('30003') });
    expect(rows.email).toMatchObject({ status: 'sent' });
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo(sent.email)).toHaveLength(1);
  });

  it('a `delivered` callback wakes nothing', async () => {
    const sent = await notifyWithChain();
    const sid = sent.byChannel.sms.providerMessageId as string;
    expect((await callback(sid, 'delivered')).status).toBe(204);
    await new Promise((r) => setTimeout(r, 1500));
    const rows = await deliveriesOf(sent.notificationId);
    expect(rows.sms).toMatchObject({ status: 'delivered' });
    expect(rows.email).toMatchObject({ status: 'skipped' });
    expect(mailsTo(sent.email)).toHaveLength(0);
  });
});
