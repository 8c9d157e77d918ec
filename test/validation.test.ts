import { startStack, uniq, type Stack } from './support/stack';

describe('bad input to POST /v1/notifications', () => {
  let stack: Stack;
  const groupName = `Valid Group ${uniq('g')}`;
  beforeAll(async () => {
    stack = await startStack({ apiEnv: { BODY_LIMIT_BYTES: '4096' } });
    await stack.api('PUT', `/v1/groups/${uniq('valid')}`, { name: groupName });
  });
  afterAll(async () => {
    await stack.close();
  });

  const valid = () => ({
    event: 'ticket.assigned',
    to: { groups: [groupName] },
    data: { ticketId: '1', title: 'x' },
  });

  const cases: { name: string; body: unknown; status: number; path: string; message: RegExp }[] = [
    {
      name: 'unknown event',
      body: { ...valid(), event: 'ticket.exploded' },
      status: 422,
      path: 'event',
      message: /unknown event/,
    },
    {
      name: 'unknown group',
      body: { ...valid(), to: { groups: [groupName, 'No Such Group'] } },
      status: 422,
      path: 'to.groups[1]',
      message: /unknown group 'No Such Group'/,
    },
    {
      name: 'unknown recipient',
      body: { ...valid(), to: { recipients: ['nobody-here'] } },
      status: 422,
      path: 'to.recipients[0]',
      message: /unknown recipient/,
    },
    {
      name: 'missing template variable',
      body: { ...valid(), data: { ticketId: '1' } },
      status: 422,
      path: 'data.title',
      message: /required variable is missing/,
    },
    {
      name: 'variable of the wrong type',
      body: { ...valid(), data: { ticketId: 1, title: 'x' } },
      status: 422,
      path: 'data.ticketId',
      message: /expected string, got number/,
    },
    {
      name: 'malformed email',
      body: { ...valid(), to: { emails: ['not-an-email'] } },
      status: 400,
      path: 'to.emails[0]',
      message: /not a valid email address/,
    },
    {
      name: 'email with a line break',
      body: { ...valid(), to: { emails: ['a@example.com\r\nBcc: x@evil.test'] } },
      status: 400,
      path: 'to.emails[0]',
      message: /not a valid email address/,
    },
    {
      name: 'wrong type for priority',
      body: { ...valid(), priority: 5 },
      status: 400,
      path: 'priority',
      message: /.+/,
    },
    {
      name: 'unknown priority',
      body: { ...valid(), priority: 'urgent' },
      status: 400,
      path: 'priority',
      message: /.+/,
    },
    {
      name: 'data not an object',
      body: { ...valid(), data: 'text' },
      status: 400,
      path: 'data',
      message: /.+/,
    },
    {
      name: 'no audience',
      body: { ...valid(), to: {} },
      status: 400,
      path: 'to',
      message: /at least one recipient/,
    },
    {
      name: 'unknown field',
      body: { ...valid(), sendAt: 'tomorrow' },
      status: 400,
      path: 'body',
      message: /sendAt/,
    },
    {
      name: 'missing event',
      body: { to: { groups: [groupName] } },
      status: 400,
      path: 'event',
      message: /.+/,
    },
    {
      name: 'body over the size limit',
      body: { ...valid(), data: { ticketId: '1', title: 'x'.repeat(5000) } },
      status: 413,
      path: 'body',
      message: /larger than the limit/,
    },
    { name: 'invalid JSON', body: '{"event": "ticket.assigned",', status: 400, path: 'body', message: /.+/ },
  ];

  it.each(cases)(
    '$name → $status naming $path; nothing started or written',
    async ({ body, status, path, message }) => {
      const before = await counts();
      const response = await stack.api('POST', '/v1/notifications', body);
      expect(response.status).toBe(status);
      expect(response.body.error.code).toEqual(expect.any(String));
      const detail = response.body.error.details.find((d: { path: string }) => d.path === path);
      expect(detail).toBeDefined();
      expect(detail.message).toMatch(message);
      expect(await counts()).toEqual(before);
    },
  );

  it('a GET of a malformed id or an unknown notification is a JSON 4xx', async () => {
    expect((await stack.api('GET', '/v1/notifications/not-a-uuid')).status).toBe(400);
    const missing = await stack.api('GET', '/v1/notifications/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const route = await stack.api('GET', '/v1/nothing-here');
    expect(route.status).toBe(404);
  });

  /** Rows in the database and workflows on this test's task queue. */
  async function counts() {
    const rows = await stack.db.query(
      'SELECT (SELECT count(*) FROM notifications)::int AS n, (SELECT count(*) FROM deliveries)::int AS d',
    );
    let workflows = 0;
    for await (const _wf of stack.client.workflow.list({ query: `TaskQueue = '${stack.taskQueue}'` }))
      workflows++;
    return { ...rows.rows[0], workflows };
  }
});
