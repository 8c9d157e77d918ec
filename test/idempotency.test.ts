import { countNotifications } from '../db/queries/notifications';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

describe('Idempotency-Key', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  const body = (email: string) => ({
    event: 'test_email',
    to: { emails: [email] },
    data: { message: 'hello' },
  });

  it('the same request twice with one key gives one notification and one mail', async () => {
    const key = uniq('key');
    const email = `${uniq('twice')}@example.com`;
    const first = await stack.api('POST', '/v1/notifications', body(email), { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    await waitForNotification(stack, first.body.id);
    const second = await stack.api('POST', '/v1/notifications', body(email), { 'Idempotency-Key': key });
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(stack.sink.messages().filter((m) => m.envelopeTo.includes(email))).toHaveLength(1);
  });

  it('eight identical concurrent requests with another key start one workflow and send one set of mails', async () => {
    const key = uniq('race');
    const email = `${uniq('race')}@example.com`;
    // Key order differs between copies: equal bodies are compared by content, not by bytes.
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        stack.api(
          'POST',
          '/v1/notifications',
          i % 2 ? body(email) : { data: { message: 'hello' }, to: { emails: [email] }, event: 'test_email' },
          {
            'Idempotency-Key': key,
          },
        ),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(202));
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    await waitForNotification(stack, id);
    const rows = await stack.db.query(
      'SELECT count(*)::int AS n FROM notifications WHERE idempotency_key = $1',
      [key],
    );
    expect(rows.rows[0].n).toBe(1);
    const workflows: string[] = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = 'notification-${id}'` }))
      workflows.push(wf.runId);
    expect(workflows).toHaveLength(1);
    expect(stack.sink.messages().filter((m) => m.envelopeTo.includes(email))).toHaveLength(1);
  });

  it('the same key with another body is a 422 and changes nothing', async () => {
    const key = uniq('reuse');
    const first = await stack.api('POST', '/v1/notifications', body(`${uniq('a')}@example.com`), {
      'Idempotency-Key': key,
    });
    expect(first.status).toBe(202);
    const before = await countNotifications(stack.db);
    const second = await stack.api('POST', '/v1/notifications', body(`${uniq('b')}@example.com`), {
      'Idempotency-Key': key,
    });
    expect(second.status).toBe(422);
    expect(second.body.error.code).toBe('idempotency_key_reused');
    expect(second.body.error.details[0].path).toBe('Idempotency-Key');
    expect(await countNotifications(stack.db)).toBe(before);
  });

  it('accepts the key as a body field too, and rejects a body field that contradicts the header', async () => {
    const key = uniq('field');
    const email = `${uniq('field')}@example.com`;
    const viaField = await stack.api('POST', '/v1/notifications', { ...body(email), idempotencyKey: key });
    const viaHeader = await stack.api('POST', '/v1/notifications', body(email), { 'Idempotency-Key': key });
    expect(viaHeader.body.id).toBe(viaField.body.id);
    const contradicting = await stack.api(
      'POST',
      '/v1/notifications',
      { ...body(email), idempotencyKey: key },
      { 'Idempotency-Key': uniq('other') },
    );
    expect(contradicting.status).toBe(400);
    expect(contradicting.body.error.details[0].path).toBe('idempotencyKey');
  });
});
