import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/** The test's own SMTP server: `flaky-…` addresses get 421 twice, `nouser-…` addresses get 550. */
const sinkBehaviour = {
  onRcpt: (address: string, attempt: number) => {
    if (address.startsWith('flaky-') && attempt <= 2)
      return { code: 421, message: 'Service not available, try again later' };
    if (address.startsWith('nouser-')) return { code: 550, message: '5.1.1 No such user here' };
    return undefined;
  },
};

describe('SMTP failures', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sink: sinkBehaviour });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('retries a temporary 421 with backoff and delivers exactly once', async () => {
    const email = `${uniq('flaky')}@example.com`;
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { emails: [email] },
    });
    const view = await waitForNotification(stack, created.body.id);
    expect(view.status).toBe('completed');
    const delivery = view.recipients[0].deliveries[0];
    expect(delivery).toMatchObject({ status: 'sent', attempts: 3, error: null });
    expect(stack.sink.messages().filter((m) => m.envelopeTo.includes(email))).toHaveLength(1);
  });

  it('does not retry a permanent 550: the delivery fails with the SMTP error', async () => {
    const email = `${uniq('nouser')}@example.com`;
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { emails: [email] },
    });
    const view = await waitForNotification(stack, created.body.id);
    expect(view.status).toBe('failed');
    const delivery = view.recipients[0].deliveries[0];
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toBe(1);
    expect(delivery.error).toMatch(/^SMTP 550: .*No such user here/);
    expect(stack.sink.messages().filter((m) => m.envelopeTo.includes(email))).toHaveLength(0);
    // Nothing was retried: the resolving step's one attempt failed it, and no send batch followed.
    const history = await stack.client.workflow.getHandle(`notification-${created.body.id}`).fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
  });

  it('a mix: the good recipients get their mail while a failing one fails alone', async () => {
    const good = `${uniq('good')}@example.com`;
    const bad = `${uniq('nouser')}@example.com`;
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { emails: [good, bad] },
    });
    const view = await waitForNotification(stack, created.body.id);
    expect(view.status).toBe('completed');
    expect(view.counts).toEqual({ sent: 1, failed: 1 });
  });

  it('gives up after the configured attempts when the server keeps answering 4xx', async () => {
    const stubborn = await startStack({
      sink: { onRcpt: () => ({ code: 451, message: 'Local error in processing' }) },
      apiEnv: { EMAIL_RETRY_MAX_ATTEMPTS: '3' },
    });
    try {
      const created = await stubborn.api('POST', '/v1/notifications', {
        event: 'test_email',
        to: { emails: [`${uniq('x')}@example.com`] },
      });
      const view = await waitForNotification(stubborn, created.body.id);
      expect(view.status).toBe('failed');
      expect(view.recipients[0].deliveries[0]).toMatchObject({ status: 'failed', attempts: 3 });
      expect(view.recipients[0].deliveries[0].error).toMatch(
        /SMTP 451: Local error in processing \(gave up after 3 attempts\)/,
      );
    } finally {
      await stubborn.close();
    }
  });
});
