import type { HeraldSchema, paths } from '../clients/typescript/src';
import { startStack, uniq, type ApiResponse, type Stack } from './support/stack';
import { expectError } from './support/expect-error';
import { asResponse, ok } from './support/typed';

type RecipientInput = HeraldSchema<'RecipientInput'>;
type GroupInput = HeraldSchema<'GroupInput'>;
type RecipientPage = paths['/v1/recipients']['get']['responses'][200]['content']['application/json'];

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

  // Through the typed client; the invalid-input cases cast their bodies on purpose, to see the API refuse them.
  const putRecipient = (externalId: string, body: RecipientInput) =>
    stack.herald.PUT('/v1/recipients/{externalId}', { params: { path: { externalId } }, body });
  const getRecipient = (externalId: string) =>
    stack.herald.GET('/v1/recipients/{externalId}', { params: { path: { externalId } } });
  const deleteRecipient = (externalId: string) =>
    stack.herald.DELETE('/v1/recipients/{externalId}', { params: { path: { externalId } } });
  const putGroup = (key: string, body: GroupInput) =>
    stack.herald.PUT('/v1/groups/{key}', { params: { path: { key } }, body });
  const getGroup = (key: string) => stack.herald.GET('/v1/groups/{key}', { params: { path: { key } } });
  const deleteGroup = (key: string) => stack.herald.DELETE('/v1/groups/{key}', { params: { path: { key } } });
  const addMember = (key: string, externalId: string) =>
    stack.herald.PUT('/v1/groups/{key}/members/{externalId}', { params: { path: { key, externalId } } });
  const removeMember = (key: string, externalId: string) =>
    stack.herald.DELETE('/v1/groups/{key}/members/{externalId}', { params: { path: { key, externalId } } });
  const listRecipients = (query: { limit?: number; after?: string }) =>
    stack.herald.GET('/v1/recipients', { params: { query } });
  const listedGroup = async (key: string) =>
    ok(await stack.herald.GET('/v1/groups'), 200).items.find((g) => g.key === key);
  /** A fresh recipient (201); returns its externalId. */
  const newRecipient = async (prefix: string) => {
    const id = uniq(prefix);
    ok(await putRecipient(id, { name: `Name of ${id}`, email: `${id}@example.com` }), 201);
    return id;
  };
  /** A fresh group (201); returns its key and name. */
  const newGroup = async (prefix: string) => {
    const key = uniq(prefix);
    const name = `Group ${key}`;
    ok(await putGroup(key, { name }), 201);
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
      } satisfies RecipientInput;
      const created = ok(await putRecipient(id, full), 201);
      expect(created).toEqual({
        externalId: id,
        ...full,
        groups: [],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(ok(await getRecipient(id))).toEqual(created);

      // A PUT replaces the whole recipient: omitted fields are cleared.
      ok(await putRecipient(id, { name: 'Tendai M.', email: 'tm@example.com' }), 200);
      const fetched = ok(await getRecipient(id), 200);
      expect(fetched).toEqual({
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
        createdAt: created.createdAt,
        updatedAt: expect.any(String),
      });
      expect(Date.parse(fetched.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));

      const { key } = await newGroup('rcpt-groups');
      ok(await addMember(key, id), 201);
      expect(ok(await getRecipient(id)).groups).toEqual([key]);

      expect((await deleteRecipient(id)).response.status).toBe(204);
      expectError(asResponse(await getRecipient(id)), 404, 'not_found');
      expectError(asResponse(await deleteRecipient(id)), 404, 'not_found');
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
      const response = asResponse(await putRecipient(id, { name: 'Valid Name', ...body } as RecipientInput));
      expectError(response, 400, 'validation_failed');
      expect(detailPaths(response)).toEqual([path]);
      expectError(asResponse(await getRecipient(id)), 404, 'not_found');
    });

    it('names every bad field at once, the unknown one included', async () => {
      // One case per field (the two quietHours cases share a key).
      const cases = invalid.filter((c) => c.path !== 'quietHours.end');
      const bad = Object.assign({}, ...cases.map((c) => c.body)) as RecipientInput;
      const response = asResponse(await putRecipient(uniq('bad'), bad));
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
      for (const id of [ids[2]!, ids[0]!, ids[1]!]) ok(await putRecipient(id, { name: id }), 201);

      // Walk from just before our prefix until past it; everyone else's ids sort outside it.
      const seen: string[] = [];
      let after: string | null = prefix;
      while (after !== null && (seen.length === 0 || seen[seen.length - 1]!.startsWith(prefix))) {
        const page: RecipientPage = ok(await listRecipients({ limit: 2, after }), 200);
        const pageIds = page.items.map((r) => r.externalId);
        expect(pageIds.length).toBeLessThanOrEqual(2);
        expect(page.nextAfter).toBe(pageIds.length === 2 ? pageIds[1] : null);
        seen.push(...pageIds);
        after = page.nextAfter;
      }
      // Ordering is the database's collation: only our own ids' order is asserted, and no page repeats.
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => id.startsWith(prefix))).toEqual(ids);
      expect(seen.slice(0, 2)).toEqual(ids.slice(0, 2));
      expect(seen[2]).toBe(ids[2]);

      const first = ok(await listRecipients({ limit: 1 }));
      expect(first.items).toHaveLength(1);
      expect(first.nextAfter).toBe(first.items[0]!.externalId);
    });

    // Raw requests: `many` is not a number the typed client would send.
    it.each(['limit=0', 'limit=501', 'limit=many'])('rejects %s with 400 naming limit', async (query) => {
      const response = await stack.api('GET', `/v1/recipients?${query}`);
      expectError(response, 400, 'validation_failed');
      expect(detailPaths(response)).toEqual(['limit']);
    });
  });

  describe('groups', () => {
    it('creates (201) and updates (200) a group; a taken name is a 409; a bad key a 400', async () => {
      const key = uniq('ops');
      const created = ok(await putGroup(key, { name: `Ops ${key}`, description: 'first' }), 201);
      expect(created).toEqual({
        key,
        name: `Ops ${key}`,
        description: 'first',
        memberCount: 0,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const updated = ok(await putGroup(key, { name: `Operations ${key}`, description: 'second' }), 200);
      expect(updated).toEqual({
        ...created,
        name: `Operations ${key}`,
        description: 'second',
        updatedAt: expect.any(String),
      });
      expect(await listedGroup(key)).toEqual(updated);

      const other = uniq('ops');
      expectError(asResponse(await putGroup(other, { name: `Operations ${key}` })), 409, 'conflict');
      expectError(asResponse(await getGroup(other)), 404, 'not_found');
      expect(ok(await getGroup(key)).name).toBe(`Operations ${key}`);

      // openapi-fetch encodes path parameters: the API sees the key `has space`.
      const spaced = asResponse(await putGroup('has space', { name: `Spaced ${key}` }));
      expectError(spaced, 400, 'validation_failed');
      expect(detailPaths(spaced)).toEqual(['key']);

      const noName = asResponse(await putGroup(uniq('ops'), { description: 'no name' } as GroupInput));
      expectError(noName, 400, 'validation_failed');
      expect(detailPaths(noName)).toEqual(['name']);
    });

    it('adds members idempotently, lists them, removes them and counts them', async () => {
      const { key } = await newGroup('admins');
      const [alice, bob] = [await newRecipient('alice'), await newRecipient('bob')];

      const added = ok(await addMember(key, alice), 201);
      expect(added).toEqual(expect.objectContaining({ key, memberCount: 1 }));
      const again = ok(await addMember(key, alice), 200);
      expect(again.memberCount).toBe(1);
      ok(await addMember(key, bob), 201);
      expect((await listedGroup(key))?.memberCount).toBe(2);

      const group = ok(await getGroup(key), 200);
      expect(group.memberCount).toBe(2);
      expect(group.members).toEqual(
        [alice, bob]
          .sort()
          .map((id) => ({ externalId: id, name: `Name of ${id}`, email: `${id}@example.com` })),
      );

      const unknownRecipient = asResponse(await addMember(key, uniq('nobody')));
      expectError(unknownRecipient, 422, 'validation_failed');
      expect(detailPaths(unknownRecipient)).toEqual(['externalId']);
      expectError(asResponse(await addMember(uniq('no-group'), alice)), 404, 'not_found');
      expectError(asResponse(await getGroup(uniq('no-group'))), 404, 'not_found');

      expect((await removeMember(key, bob)).response.status).toBe(204);
      expectError(asResponse(await removeMember(key, bob)), 404, 'not_found');
      expect(ok(await getGroup(key)).members.map((m) => m.externalId)).toEqual([alice]);
      expect((await listedGroup(key))?.memberCount).toBe(1);
      expect(ok(await getRecipient(bob)).groups).toEqual([]);
    });

    it('deleting a recipient removes it from its groups', async () => {
      const [first, second] = [await newGroup('g1'), await newGroup('g2')];
      const [stays, leaves] = [await newRecipient('stays'), await newRecipient('leaves')];
      for (const { key } of [first, second]) {
        for (const id of [stays, leaves]) ok(await addMember(key, id), 201);
        expect((await listedGroup(key))?.memberCount).toBe(2);
      }

      expect((await deleteRecipient(leaves)).response.status).toBe(204);
      for (const { key } of [first, second]) {
        expect((await listedGroup(key))?.memberCount).toBe(1);
        expect(ok(await getGroup(key)).members.map((m) => m.externalId)).toEqual([stays]);
      }
    });

    it('deleting a group keeps its recipients', async () => {
      const { key, name } = await newGroup('doomed');
      const member = await newRecipient('member');
      ok(await addMember(key, member), 201);
      expect(ok(await getRecipient(member)).groups).toEqual([key]);

      expect((await deleteGroup(key)).response.status).toBe(204);
      expectError(asResponse(await getGroup(key)), 404, 'not_found');
      expect(await listedGroup(key)).toBeUndefined();
      expectError(asResponse(await deleteGroup(key)), 404, 'not_found');
      expectError(asResponse(await addMember(key, member)), 404, 'not_found');

      const survivor = ok(await getRecipient(member), 200);
      expect(survivor.groups).toEqual([]);
      // The name is free again.
      ok(await putGroup(uniq('reborn'), { name }), 201);
    });
  });
});
