import type { HeraldSchema } from '../clients/typescript/src';
import { countNotifications } from '../db/queries/notifications';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import { ok } from './support/typed';

describe('Idempotency-Key', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  const body = (email: string): HeraldSchema<'NotificationRequest'> => ({
    event: 'test_email',
    to: { emails: [email] },
    data: { message: 'hello' },
  });
  /** POST /v1/notifications through the typed client, with the key as the header when given. */
  const send = (request: HeraldSchema<'NotificationRequest'>, key?: string) =>
    stack.herald.POST('/v1/notifications', {
      body: request,
      params: { header: key === undefined ? {} : { 'idempotency-key': key } },
    });

  it('the same request twice with one key gives one notification and one mail', async () => {
    const key = uniq('key');
    const email = `${uniq('twice')}@example.com`;
    const first = ok(await send(body(email), key), 202);
    await waitForNotification(stack, first.id);
    const second = await send(body(email), key);
    expect(ok(second, 202)).toEqual(first);
    expect(second.response.headers.get('idempotent-replayed')).toBe('true');
    expect(stack.sink.messages().filter((m) => m.envelopeTo.includes(email))).toHaveLength(1);
  });

  it('eight identical concurrent requests with another key start one workflow and send one set of mails', async () => {
    const key = uniq('race');
    const email = `${uniq('race')}@example.com`;
    // Key order differs between copies: equal bodies are compared by content, not by bytes.
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(
          i % 2 ? body(email) : { data: { message: 'hello' }, to: { emails: [email] }, event: 'test_email' },
          key,
        ),
      ),
    );
    expect(responses.map((r) => r.response.status)).toEqual(Array(8).fill(202));
    const ids = new Set(responses.map((r) => ok(r).id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
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
    ok(await send(body(`${uniq('a')}@example.com`), key), 202);
    const before = await countNotifications(stack.db);
    const second = await send(body(`${uniq('b')}@example.com`), key);
    expect(second.response.status).toBe(422);
    expect(second.error?.error.code).toBe('idempotency_key_reused');
    expect(second.error?.error.details[0]?.path).toBe('Idempotency-Key');
    expect(await countNotifications(stack.db)).toBe(before);
  });

  it('accepts the key as a body field too, and rejects a body field that contradicts the header', async () => {
    const key = uniq('field');
    const email = `${uniq('field')}@example.com`;
    const viaField = ok(await send({ ...body(email), idempotencyKey: key }), 202);
    const viaHeader = ok(await send(body(email), key));
    expect(viaHeader.id).toBe(viaField.id);
    const contradicting = await send({ ...body(email), idempotencyKey: key }, uniq('other'));
    expect(contradicting.response.status).toBe(400);
    expect(contradicting.error?.error.details[0]?.path).toBe('idempotencyKey');
  });
});
