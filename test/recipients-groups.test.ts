import { startStack, uniq, type ApiResponse, type Stack } from './support/stack';
import { expectError } from './support/expect-error';

interface Member {
  externalId: string;
}
interface Group {
  key: string;
  name: string;
  memberCount: number;
}
interface Recipient {
  externalId: string;
}

/** The detail paths of an error response, sorted. */
const detailPaths = (response: ApiResponse) =>
  response.body.error.details.map((d: { path: string }) => d.path).sort();

describe('recipients and groups over the API', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  const putRecipient = (id: string, body: unknown) => stack.api('PUT', `/v1/recipients/${id}`, body);
  const getRecipient = (id: string) => stack.api('GET', `/v1/recipients/${id}`);
  const putGroup = (key: string, body: unknown) => stack.api('PUT', `/v1/groups/${key}`, body);
  const getGroup = (key: string) => stack.api('GET', `/v1/groups/${key}`);
  const addMember = (key: string, id: string) => stack.api('PUT', `/v1/groups/${key}/members/${id}`);
  const removeMember = (key: string, id: string) => stack.api('DELETE', `/v1/groups/${key}/members/${id}`);
  const listedGroup = async (key: string): Promise<Group | undefined> => {
    const list = await stack.api('GET', '/v1/groups');
    expect(list.status).toBe(200);
    return list.body.items.find((g: Group) => g.key === key);
  };
  /** A fresh recipient (201); returns its externalId. */
  const newRecipient = async (prefix: string) => {
    const id = uniq(prefix);
    const created = await putRecipient(id, { name: `Name of ${id}`, email: `${id}@example.com` });
    expect(created.status).toBe(201);
    return id;
  };
  /** A fresh group (201); returns its key and name. */
  const newGroup = async (prefix: string) => {
    const key = uniq(prefix);
    const name = `Group ${key}`;
    const created = await putGroup(key, { name });
    expect(created.status).toBe(201);
    return { key, name };
  };

  describe('PUT/GET/DELETE /v1/recipients/{externalId}', () => {
    it('creates (201), replaces (200), returns every field, deletes (204) and then 404s', async () => {
      const id = uniq('tech');
      const full = {
        name: 'Tendai Moyo',
        email: 'tendai@example.com',
        phone: '+263771234567',
        whatsapp: '+263771234568',
        timezone: 'Africa/Harare',
        locale: 'en-ZW',
        quietHours: { start: '22:00', end: '07:00' },
        digest: { events: ['job.succeeded', 'category:orders'], frequency: 'daily', hour: 8 },
        failover: ['push', 'sms', 'email'],
      };
      const created = await putRecipient(id, full);
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        externalId: id,
        ...full,
        groups: [],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect((await getRecipient(id)).body).toEqual(created.body);

      // A PUT replaces the whole recipient: omitted fields are cleared.
      const replaced = await putRecipient(id, { name: 'Tendai M.', email: 'tm@example.com' });
      expect(replaced.status).toBe(200);
      const fetched = await getRecipient(id);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual({
        externalId: id,
        name: 'Tendai M.',
        email: 'tm@example.com',
        phone: null,
        whatsapp: null,
        timezone: null,
        locale: null,
        quietHours: null,
        digest: null,
        failover: null,
        groups: [],
        createdAt: created.body.createdAt,
        updatedAt: expect.any(String),
      });
      expect(Date.parse(fetched.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.body.updatedAt));

      const { key } = await newGroup('rcpt-groups');
      expect((await addMember(key, id)).status).toBe(201);
      expect((await getRecipient(id)).body.groups).toEqual([key]);

      expect((await stack.api('DELETE', `/v1/recipients/${id}`)).status).toBe(204);
      expectError(await getRecipient(id), 404, 'not_found');
      expectError(await stack.api('DELETE', `/v1/recipients/${id}`), 404, 'not_found');
    });

    const invalid: { name: string; body: Record<string, unknown>; path: string }[] = [
      { name: 'malformed email', body: { email: 'not-an-email' }, path: 'email' },
      { name: 'phone not E.164', body: { phone: '0771 234 567' }, path: 'phone' },
      { name: 'whatsapp not E.164', body: { whatsapp: '263771234567' }, path: 'whatsapp' },
      { name: 'unknown time zone', body: { timezone: 'Mars/Olympus' }, path: 'timezone' },
      {
        name: 'quiet hours start 25:00',
        body: { quietHours: { start: '25:00', end: '07:00' } },
        path: 'quietHours.start',
      },
      { name: 'quiet hours end missing', body: { quietHours: { start: '22:00' } }, path: 'quietHours.end' },
      { name: 'name not a string', body: { name: 42 }, path: 'name' },
      { name: 'unknown field', body: { nickname: 'Tee' }, path: 'body' },
    ];

    it.each(invalid)('$name → 400 naming $path, nothing stored', async ({ body, path }) => {
      const id = uniq('bad');
      const response = await putRecipient(id, { name: 'Valid Name', ...body });
      expectError(response, 400, 'validation_failed');
      expect(detailPaths(response)).toEqual([path]);
      expectError(await getRecipient(id), 404, 'not_found');
    });

    it('names every bad field at once, the unknown one included', async () => {
      // One case per field (the two quietHours cases share a key).
      const cases = invalid.filter((c) => c.path !== 'quietHours.end');
      const response = await putRecipient(uniq('bad'), Object.assign({}, ...cases.map((c) => c.body)));
      expectError(response, 400, 'validation_failed');
      expect(detailPaths(response)).toEqual(cases.map((c) => c.path).sort());
      const unknown = response.body.error.details.find((d: { path: string }) => d.path === 'body');
      expect(unknown.message).toContain('nickname');
    });
  });

  describe('GET /v1/recipients', () => {
    it('pages by externalId with limit and after', async () => {
      const prefix = uniq('page');
      const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
      // Created out of order: the listing orders by externalId, not by creation.
      for (const id of [ids[2]!, ids[0]!, ids[1]!]) {
        expect((await putRecipient(id, { name: id })).status).toBe(201);
      }

      // Walk from just before our prefix until past it; everyone else's ids sort outside it.
      const seen: string[] = [];
      let after: string | null = prefix;
      while (after !== null && (seen.length === 0 || seen[seen.length - 1]!.startsWith(prefix))) {
        const page: ApiResponse = await stack.api('GET', `/v1/recipients?limit=2&after=${after}`);
        expect(page.status).toBe(200);
        const pageIds = page.body.items.map((r: Recipient) => r.externalId);
        expect(pageIds.length).toBeLessThanOrEqual(2);
        expect(page.body.nextAfter).toBe(pageIds.length === 2 ? pageIds[1] : null);
        seen.push(...pageIds);
        after = page.body.nextAfter;
      }
      // Ordering is the database's collation: only our own ids' order is asserted, and no page repeats.
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => id.startsWith(prefix))).toEqual(ids);
      expect(seen.slice(0, 2)).toEqual(ids.slice(0, 2));
      expect(seen[2]).toBe(ids[2]);

      const first = await stack.api('GET', '/v1/recipients?limit=1');
      expect(first.body.items).toHaveLength(1);
      expect(first.body.nextAfter).toBe(first.body.items[0].externalId);
    });

    it.each(['limit=0', 'limit=501', 'limit=many'])('rejects %s with 400 naming limit', async (query) => {
      const response = await stack.api('GET', `/v1/recipients?${query}`);
      expectError(response, 400, 'validation_failed');
      expect(detailPaths(response)).toEqual(['limit']);
    });
  });

  describe('groups', () => {
    it('creates (201) and updates (200) a group; a taken name is a 409; a bad key a 400', async () => {
      const key = uniq('ops');
      const created = await putGroup(key, { name: `Ops ${key}`, description: 'first' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        key,
        name: `Ops ${key}`,
        description: 'first',
        memberCount: 0,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const updated = await putGroup(key, { name: `Operations ${key}`, description: 'second' });
      expect(updated.status).toBe(200);
      expect(updated.body).toEqual({
        ...created.body,
        name: `Operations ${key}`,
        description: 'second',
        updatedAt: expect.any(String),
      });
      expect(await listedGroup(key)).toEqual(updated.body);

      const other = uniq('ops');
      const clash = await putGroup(other, { name: `Operations ${key}` });
      expectError(clash, 409, 'conflict');
      expectError(await getGroup(other), 404, 'not_found');
      expect((await getGroup(key)).body.name).toBe(`Operations ${key}`);

      const spaced = await putGroup('has%20space', { name: `Spaced ${key}` });
      expectError(spaced, 400, 'validation_failed');
      expect(detailPaths(spaced)).toEqual(['key']);

      const noName = await putGroup(uniq('ops'), { description: 'no name' });
      expectError(noName, 400, 'validation_failed');
      expect(detailPaths(noName)).toEqual(['name']);
    });

    it('adds members idempotently, lists them, removes them and counts them', async () => {
      const { key } = await newGroup('admins');
      const [alice, bob] = [await newRecipient('alice'), await newRecipient('bob')];

      const added = await addMember(key, alice);
      expect(added.status).toBe(201);
      expect(added.body).toEqual(expect.objectContaining({ key, memberCount: 1 }));
      const again = await addMember(key, alice);
      expect(again.status).toBe(200);
      expect(again.body.memberCount).toBe(1);
      expect((await addMember(key, bob)).status).toBe(201);
      expect((await listedGroup(key))?.memberCount).toBe(2);

      const group = await getGroup(key);
      expect(group.status).toBe(200);
      expect(group.body.memberCount).toBe(2);
      expect(group.body.members).toEqual(
        [alice, bob]
          .sort()
          .map((id) => ({ externalId: id, name: `Name of ${id}`, email: `${id}@example.com` })),
      );

      const unknownRecipient = await addMember(key, uniq('nobody'));
      expectError(unknownRecipient, 422, 'validation_failed');
      expect(detailPaths(unknownRecipient)).toEqual(['externalId']);
      expectError(await addMember(uniq('no-group'), alice), 404, 'not_found');
      expectError(await getGroup(uniq('no-group')), 404, 'not_found');

      expect((await removeMember(key, bob)).status).toBe(204);
      expectError(await removeMember(key, bob), 404, 'not_found');
      expect((await getGroup(key)).body.members.map((m: Member) => m.externalId)).toEqual([alice]);
      expect((await listedGroup(key))?.memberCount).toBe(1);
      expect((await getRecipient(bob)).body.groups).toEqual([]);
    });

    it('deleting a recipient removes it from its groups', async () => {
      const [first, second] = [await newGroup('g1'), await newGroup('g2')];
      const [stays, leaves] = [await newRecipient('stays'), await newRecipient('leaves')];
      for (const { key } of [first, second]) {
        for (const id of [stays, leaves]) expect((await addMember(key, id)).status).toBe(201);
        expect((await listedGroup(key))?.memberCount).toBe(2);
      }

      expect((await stack.api('DELETE', `/v1/recipients/${leaves}`)).status).toBe(204);
      for (const { key } of [first, second]) {
        expect((await listedGroup(key))?.memberCount).toBe(1);
        expect((await getGroup(key)).body.members.map((m: Member) => m.externalId)).toEqual([stays]);
      }
    });

    it('deleting a group keeps its recipients', async () => {
      const { key, name } = await newGroup('doomed');
      const member = await newRecipient('member');
      expect((await addMember(key, member)).status).toBe(201);
      expect((await getRecipient(member)).body.groups).toEqual([key]);

      expect((await stack.api('DELETE', `/v1/groups/${key}`)).status).toBe(204);
      expectError(await getGroup(key), 404, 'not_found');
      expect(await listedGroup(key)).toBeUndefined();
      expectError(await stack.api('DELETE', `/v1/groups/${key}`), 404, 'not_found');
      expectError(await addMember(key, member), 404, 'not_found');

      const survivor = await getRecipient(member);
      expect(survivor.status).toBe(200);
      expect(survivor.body.groups).toEqual([]);
      // The name is free again.
      expect((await putGroup(uniq('reborn'), { name })).status).toBe(201);
    });
  });
});
