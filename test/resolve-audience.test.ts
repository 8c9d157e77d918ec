/**
 * The resolve insert has two statements: one for audiences of known recipients only (the common
 * case, planned cheaply) and one for groups and raw addresses too. Both must make the same delivery
 * rows from the same people: shared addresses merged, missing addresses skipped with a reason, push
 * subscriptions counted, webhook endpoints (a person's, the tenant's, disabled ones left out).
 */
import { randomUUID } from 'node:crypto';
import type { ChannelName } from '../common/types';
import { insertDeliveries, type ResolveAudience } from '../db/queries/deliveries';
import { startStack, type Stack } from './support/stack';

interface Row {
  recipient_key: string;
  external_id: string | null;
  recipient_name: string | null;
  channel: string;
  address: string;
  status: string;
  error: string | null;
  level: number;
}

describe('resolving an audience into delivery rows', () => {
  let stack: Stack;
  const ids: Record<string, string> = {};
  const ALL: ChannelName[] = ['email', 'push', 'sms', 'whatsapp', 'inapp', 'webhook'];

  beforeAll(async () => {
    stack = await startStack({ worker: false });
    const { db, tenantId } = stack;
    const people: [string, string | null, string | null, string | null][] = [
      // key, email, phone, whatsapp
      ['ana', 'Shared@Example.com', '+263771000001', null],
      ['ben', 'shared@example.com', null, '+263771000002'],
      ['cy', null, '+263771000001', '+263771000003'],
      ['dee', 'dee@example.com', null, null],
    ];
    for (const [key, email, phone, whatsapp] of people) {
      ids[key] = `${key}-${randomUUID().slice(0, 8)}`;
      await db.query(
        `INSERT INTO recipients (tenant_id, external_id, name, email, phone, whatsapp) VALUES ($1, $2, $3, $4, $5, $6)`,
        [tenantId, ids[key], `Name ${key}`, email, phone, whatsapp],
      );
    }
    // ana: two push subscriptions, ben: one; cy has a webhook endpoint, dee a disabled one.
    for (const [key, n] of [
      ['ana', 2],
      ['ben', 1],
    ] as const)
      for (let i = 0; i < n; i++)
        await db.query(
          `INSERT INTO push_subscriptions (tenant_id, external_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, 'k', 'a')`,
          [tenantId, ids[key], `https://push.example/${ids[key]}/${i}`],
        );
    const endpoint = (externalId: string | null, disabled: boolean) =>
      db.query(
        `INSERT INTO webhook_endpoints (id, tenant_id, external_id, url, secrets, disabled_at)
         VALUES ($1, $2, $3, 'https://hooks.example/x', ARRAY['whsec_x'], $4)`,
        [randomUUID(), tenantId, externalId, disabled ? new Date() : null],
      );
    await endpoint(ids.cy!, false);
    await endpoint(ids.dee!, true);
    await endpoint(null, false);
    await endpoint(null, true);
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A fresh notification, resolved with `audience`; its rows, in a stable order. */
  async function resolve(audience: Partial<ResolveAudience>): Promise<Row[]> {
    const notificationId = randomUUID();
    await stack.db.query(
      `INSERT INTO notifications (id, tenant_id, event, priority, request_hash, request, workflow_id)
       VALUES ($1::uuid, $2, 'ticket.assigned', 'normal', 'h', '{}', $1::text)`,
      [notificationId, stack.tenantId],
    );
    const input: ResolveAudience = {
      notificationId,
      tenantId: stack.tenantId,
      event: 'ticket.assigned',
      recipientIds: [],
      groupKeys: [],
      emails: [],
      phones: [],
      channels: ALL,
      level: 0,
      ...audience,
    };
    await insertDeliveries(stack.db, input);
    await insertDeliveries(stack.db, input); // re-running adds nothing
    const { rows } = await stack.db.query<Row>(
      `SELECT recipient_key, external_id, recipient_name, channel, address, status, error, level
         FROM deliveries WHERE notification_id = $1 ORDER BY channel, recipient_key`,
      [notificationId],
    );
    return rows;
  }

  const everyone = () => Object.values(ids);

  it('makes the same rows from known recipients alone as with the group and raw-address parts', async () => {
    const known = await resolve({ recipientIds: everyone() });
    // A group key no member has sends the call down the general statement with the same people.
    const general = await resolve({ recipientIds: everyone(), groupKeys: [`none-${randomUUID()}`] });
    expect(general).toEqual(known);

    const by = (channel: string) => known.filter((r) => r.channel === channel);
    // ana and ben share an address (case aside): one email, to the first of them.
    expect(by('email').map((r) => [r.external_id, r.address, r.status])).toEqual(
      [
        [ids.ana, 'shared@example.com', 'pending'],
        [ids.dee, 'dee@example.com', 'pending'],
        [ids.cy, '', 'skipped'],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    expect(by('email').find((r) => r.external_id === ids.cy)!.error).toBe('no email address');
    // ana and cy share a phone number; ben has none.
    expect(
      by('sms')
        .map((r) => [r.external_id, r.status, r.error])
        .sort(),
    ).toEqual(
      [
        [ids.ana, 'pending', null],
        [ids.ben, 'skipped', 'no phone number'],
        [ids.dee, 'skipped', 'no phone number'],
      ].sort(),
    );
    expect(
      by('push')
        .map((r) => [r.external_id, r.address, r.error])
        .sort(),
    ).toEqual(
      [
        [ids.ana, '2 push subscriptions', null],
        [ids.ben, '1 push subscription', null],
        [ids.cy, '', 'no push subscription'],
        [ids.dee, '', 'no push subscription'],
      ].sort(),
    );
    expect(by('inapp')).toHaveLength(4);
    // cy's endpoint and the tenant's enabled one; no row for people without one, none for disabled ones.
    const webhooks = by('webhook');
    expect(webhooks.map((r) => r.external_id).sort()).toEqual([ids.cy, null].sort());
    expect(webhooks.every((r) => r.status === 'pending' && r.address.startsWith('webhook:'))).toBe(true);
  });

  it('makes rows only on the channels asked for', async () => {
    const rows = await resolve({ recipientIds: [ids.ana!, ids.cy!], channels: ['email', 'whatsapp'] });
    expect(rows.map((r) => [r.channel, r.external_id, r.status]).sort()).toEqual(
      [
        ['email', ids.ana, 'pending'],
        ['email', ids.cy, 'skipped'],
        ['whatsapp', ids.ana, 'skipped'],
        ['whatsapp', ids.cy, 'pending'],
      ].sort(),
    );
    expect(await resolve({ recipientIds: everyone(), channels: [] })).toEqual([]);
  });

  it('merges raw addresses with known people on the general statement', async () => {
    const rows = await resolve({
      recipientIds: [ids.dee!],
      emails: ['DEE@example.com', 'new@example.com'],
      phones: ['+263771999999'],
      channels: ['email', 'sms'],
      level: 2,
    });
    expect(rows.map((r) => [r.channel, r.recipient_key, r.address, r.status, r.level])).toEqual([
      ['email', ids.dee, 'dee@example.com', 'pending', 2],
      ['email', 'email:new@example.com', 'new@example.com', 'pending', 2],
      ['sms', ids.dee, '', 'skipped', 2],
      ['sms', 'phone:+263771999999', '+263771999999', 'pending', 2],
    ]);
  });
});
