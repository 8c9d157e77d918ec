import { startStack, type Stack } from './support/stack';

// Small fixes from issue 11 that need the API but no sends of their own.

describe('GET /v1/deliveries?status=', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('accepts every status the delivery log can hold (its CHECK constraint), digested included', async () => {
    const check = await stack.db.query<{ definition: string }>(
      `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = 'deliveries_status_check'`,
    );
    const statuses = [...check.rows[0]!.definition.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
    expect(statuses).toContain('digested');
    const answers = await Promise.all(
      statuses.map(async (status) => [
        status,
        (await stack.api('GET', `/v1/deliveries?status=${status}`)).status,
      ]),
    );
    expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(statuses.map((s) => [s, 200])));
    expect((await stack.api('GET', '/v1/deliveries?status=lost')).status).toBe(400);
  });
});
