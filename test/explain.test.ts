import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { localParts } from '../common/quiet-hours';
import { expectError } from './support/expect-error';
import { ROOT } from './support/env';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * `nouser-…` addresses get a permanent 550 from the test's SMTP server (as test/smtp-failures.test.ts);
 * `flaky-…` ones a temporary 451 the first time, then the server takes them.
 */
const refusedOnce = new Set<string>();
const sinkBehaviour = {
  onRcpt: (address: string) => {
    if (address.startsWith('nouser-')) return { code: 550, message: '5.1.1 No such user here' };
    if (address.startsWith('flaky-') && !refusedOnce.has(address)) {
      refusedOnce.add(address);
      return { code: 451, message: '4.3.0 Try again later' };
    }
    return undefined;
  },
};

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ sink: sinkBehaviour });
});
afterAll(async () => {
  await stack?.close();
});

// Tests read the story as JSON; a wrong guess fails the assertion that reads it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function person(
  prefix: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; email: string }> {
  const id = uniq(prefix);
  const email = `${id}@example.com`;
  const put = await stack.api('PUT', `/v1/recipients/${id}`, { name: `Person ${id}`, email, ...extra });
  expect(put.status).toBe(201);
  return { id, email: (extra.email as string | undefined) ?? email };
}

async function group(members: string[]): Promise<{ key: string; name: string }> {
  const key = uniq('grp');
  const name = `Explain ${key}`;
  expect((await stack.api('PUT', `/v1/groups/${key}`, { name })).status).toBe(201);
  for (const m of members)
    expect((await stack.api('PUT', `/v1/groups/${key}/members/${m}`)).status).toBe(201);
  return { key, name };
}

async function send(body: Record<string, unknown>, wait = true): Promise<string> {
  const created = await stack.api('POST', '/v1/notifications', {
    event: 'ticket.assigned',
    data: { ticketId: uniq('T'), title: 'Printer on fire' },
    channels: ['email', 'inapp'],
    ...body,
  });
  expect(created.status).toBe(202);
  if (wait) await waitForNotification(stack, created.body.id);
  return created.body.id;
}

async function explain(id: string, recipient: string): Promise<Json> {
  const answer = await stack.api(
    'GET',
    `/v1/notifications/${id}/explain?recipient=${encodeURIComponent(recipient)}`,
  );
  expect(answer.status).toBe(200);
  return answer.body;
}

const channel = (story: Json, name: string) =>
  story.channels.find((c: Json) => c.channel === name && c.level === 0);

describe('GET /v1/notifications/{id}/explain', () => {
  let groupSend: {
    id: string;
    group: { key: string; name: string };
    member: string;
    late: string;
    outsider: string;
  };

  beforeAll(async () => {
    const member = await person('member');
    const late = await person('late');
    const outsider = await person('outsider');
    const g = await group([member.id]);
    const other = await group([outsider.id]);
    expect(other.key).not.toBe(g.key);
    const id = await send({ to: { groups: [g.name] } });
    // Added after the notification was sent and finished: not in its audience.
    expect((await stack.api('PUT', `/v1/groups/${g.key}/members/${late.id}`)).status).toBe(201);
    groupSend = { id, group: g, member: member.id, late: late.id, outsider: outsider.id };
  });

  it('a recipient reached through a group: which group, member since when, each channel sent', async () => {
    const story = await explain(groupSend.id, groupSend.member);
    expect(story.recipient).toMatchObject({
      kind: 'person',
      externalId: groupSend.member,
      matchedBy: 'externalId',
    });
    expect(story.outcome).toBe('reached');
    expect(story.resolution).toHaveLength(1);
    expect(story.resolution[0]).toMatchObject({
      level: 0,
      status: 'resolved',
      via: [{ kind: 'group', group: { key: groupSend.group.key, name: groupSend.group.name } }],
      reasons: [],
    });
    expect(Date.parse(story.resolution[0].via[0].group.memberSince)).toBeLessThanOrEqual(
      Date.parse(story.notification.createdAt),
    );
    expect(channel(story, 'email')).toMatchObject({
      decision: 'sent',
      status: 'sent',
      address: `${groupSend.member}@example.com`,
      attempts: { count: 1, lastError: null, providerMessageId: expect.any(String) },
    });
    expect(channel(story, 'inapp')).toMatchObject({ decision: 'sent' });
    expect(story.story).toContain(
      `Resolved for the notification through group ${groupSend.group.name} (key ${groupSend.group.key}, member since ${story.resolution[0].via[0].group.memberSince}).`,
    );
    expect(story.story[story.story.length - 1]).toBe('Outcome: reached.');
  });

  it('a member who joined the group after the send: joined_after_send with the group and both times', async () => {
    const story = await explain(groupSend.id, groupSend.late);
    expect(story.outcome).toBe('not_resolved');
    expect(story.channels).toEqual([]);
    const [reason] = story.resolution[0].reasons;
    expect(story.resolution[0]).toMatchObject({ status: 'not_resolved', via: [] });
    expect(reason).toMatchObject({
      code: 'joined_after_send',
      group: { key: groupSend.group.key, name: groupSend.group.name },
    });
    expect(Date.parse(reason.group.joinedAt)).toBeGreaterThan(Date.parse(story.notification.createdAt));
    expect(reason.message).toContain(`after the send at ${story.notification.createdAt}`);
  });

  it('a person never in the audience: not a member of any targeted group, and which groups they are in', async () => {
    const story = await explain(groupSend.id, groupSend.outsider);
    expect(story.outcome).toBe('not_resolved');
    expect(story.resolution[0].reasons.map((r: Json) => r.code)).toEqual([
      'not_member_of_targeted_groups',
      'not_in_audience',
    ]);
    expect(story.resolution[0].reasons[0].message).toContain(`(${groupSend.group.name})`);
    expect(story.resolution[0].reasons[0].message).toMatch(/member of Explain grp-/);
  });

  it('an unknown recipient is a story (200), and so is an address nobody has', async () => {
    const unknown = await explain(groupSend.id, uniq('nobody'));
    expect(unknown).toMatchObject({
      recipient: { kind: 'unknown', externalId: null },
      outcome: 'not_resolved',
      resolution: [{ status: 'not_resolved', reasons: [{ code: 'recipient_unknown' }] }],
      channels: [],
    });
    const stranger = `${uniq('stranger')}@Example.com`;
    const address = await explain(groupSend.id, stranger);
    expect(address.recipient).toMatchObject({ kind: 'address', address: stranger.toLowerCase() });
    expect(address.resolution[0].reasons.map((r: Json) => r.code)).toEqual(['not_in_audience']);
  });

  it('an opted-out channel names the preference rule; the other channel still went', async () => {
    const p = await person('optout');
    const prefs = { events: { 'ticket.assigned': { channels: { email: false } } } };
    expect((await stack.api('PUT', `/v1/recipients/${p.id}/preferences`, prefs)).status).toBe(200);
    const id = await send({ to: { recipients: [p.id] } });
    const story = await explain(id, p.id);
    expect(story.resolution[0].via).toEqual([{ kind: 'recipient', group: null, address: null }]);
    expect(channel(story, 'email')).toMatchObject({
      decision: 'preference',
      status: 'suppressed',
      reason: 'opted out of email for ticket.assigned',
      attempts: { count: 0 },
    });
    expect(channel(story, 'inapp')).toMatchObject({ decision: 'sent' });
    expect(story.outcome).toBe('reached');
    expect(story.story).toContain(
      `email → ${p.email}: not sent: preference rule — opted out of email for ticket.assigned.`,
    );
  });

  it('quiet hours: the email is held until the end of the window, in the person’s zone', async () => {
    // A window in the person's own zone that covers now and ends in 30 minutes, whatever today is.
    const zone = 'Asia/Kolkata';
    const hhmmss = (at: number) => {
      const t = localParts(at, zone);
      return [t.hour, t.minute, t.second].map((n) => String(n).padStart(2, '0')).join(':');
    };
    const end = Math.ceil((Date.now() + 30 * 60_000) / 1000) * 1000;
    const p = await person('quiet', {
      timezone: zone,
      quietHours: { start: hhmmss(Date.now() - 60_000), end: hhmmss(end) },
    });
    const id = await send({ to: { recipients: [p.id] } }, false);
    let story: Json;
    for (let i = 0; i < 200; i++) {
      story = await explain(id, p.id);
      // The silent inbox goes at once; the email waits.
      if (channel(story, 'email')?.decision === 'quiet_hours' && channel(story, 'inapp')?.decision === 'sent')
        break;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(channel(story, 'email')).toMatchObject({
      decision: 'quiet_hours',
      status: 'pending',
      heldUntil: new Date(end).toISOString(),
    });
    expect(story.outcome).toBe('reached'); // the silent inbox is not held
    expect(story.story).toContain(
      `email → ${p.email}: held by quiet hours until ${new Date(end).toISOString()}.`,
    );
    expect((await stack.api('POST', `/v1/notifications/${id}/cancel`)).status).toBe(200);
  });

  it('a deduped person: the second notification names the first it duplicated', async () => {
    const p = await person('dedupe');
    const dedupe = { key: 'ticket-{{ ticketId }}', window: '10m' };
    const data = { ticketId: uniq('D'), title: 'Same ticket' };
    const first = await send({ to: { recipients: [p.id] }, data, dedupe });
    const second = await send({ to: { recipients: [p.id] }, data, dedupe });
    const story = await explain(second, p.id);
    expect(story.outcome).toBe('suppressed');
    for (const name of ['email', 'inapp'])
      expect(channel(story, name)).toMatchObject({
        decision: 'deduped',
        status: 'suppressed',
        duplicateOf: first,
      });
    expect(story.story).toContain(
      `email → ${p.email}: not sent: a duplicate of notification ${first} within its dedupe window.`,
    );
    expect((await explain(first, p.id)).outcome).toBe('reached');
  });

  it('an address that failed with 550: one attempt and the SMTP answer; found by the address too', async () => {
    const email = `${uniq('nouser')}@example.com`;
    const p = await person('bounce', { email });
    const id = await send({ to: { recipients: [p.id] }, channels: ['email'] });
    const story = await explain(id, p.id);
    expect(story.outcome).toBe('failed');
    expect(channel(story, 'email')).toMatchObject({ decision: 'failed', status: 'failed', address: email });
    expect(channel(story, 'email').attempts.count).toBe(1);
    expect(channel(story, 'email').attempts.history).toEqual([
      {
        attempt: 1,
        outcome: 'failed',
        at: expect.any(String),
        answer: expect.stringMatching(/^SMTP 550: .*No such user/),
      },
    ]);
    expect(channel(story, 'email').reason).toMatch(/^SMTP 550: .*No such user here/);
    expect(story.story.find((l: string) => l.startsWith('email →'))).toMatch(
      /^email → nouser-\S+: failed after 1 attempt: SMTP 550: .*No such user here/,
    );
    const byAddress = await explain(id, email.toUpperCase());
    expect(byAddress.recipient).toMatchObject({ kind: 'person', externalId: p.id, matchedBy: 'address' });
    expect(channel(byAddress, 'email').decision).toBe('failed');
  });

  it('an address refused once with 451 then taken: each attempt with its answer', async () => {
    const email = `${uniq('flaky')}@example.com`;
    const p = await person('flaky', { email });
    const id = await send({ to: { recipients: [p.id] }, channels: ['email'] });
    const story = await explain(id, p.id);
    const email0 = channel(story, 'email');
    expect(email0).toMatchObject({ decision: 'sent', status: 'sent', attempts: { count: 2 } });
    expect(email0.attempts.history).toEqual([
      {
        attempt: 1,
        outcome: 'retrying',
        at: expect.any(String),
        answer: expect.stringMatching(/451.*Try again later/),
      },
      { attempt: 2, outcome: 'sent', at: email0.attempts.sentAt, answer: expect.stringMatching(/^accepted/) },
    ]);
    expect(story.story.find((l: string) => l.startsWith('email →'))).toMatch(
      /after 2 attempts \(attempt 1: .*451.*Try again later\)/,
    );
  });

  it('an email address two people share is merged: the second is told through the first’s message', async () => {
    const shared = `${uniq('shared')}@example.com`;
    const a = await person('sharea', { email: shared });
    const b = await person('shareb', { email: shared });
    const [first, second] = [a.id, b.id].sort();
    const id = await send({ to: { recipients: [a.id, b.id] } });
    const story = await explain(id, second!);
    expect(channel(story, 'email')).toMatchObject({ decision: 'merged', status: null, mergedWith: first });
    expect(story.resolution[0].reasons).toEqual([
      expect.objectContaining({ code: 'address_merged', with: first }),
    ]);
    expect(channel(story, 'inapp')).toMatchObject({ decision: 'sent' });
  });

  it('escalation and acknowledgement: who acknowledged, and that no level fired', async () => {
    const p = await person('esc');
    const id = await send(
      { to: { recipients: [p.id] }, channels: ['inapp'], escalation: { levels: [{ afterSeconds: 600 }] } },
      false,
    );
    for (let i = 0; i < 200; i++) {
      if ((await explain(id, p.id)).outcome === 'reached') break;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect((await stack.api('POST', `/v1/notifications/${id}/ack`, { by: 'ops-lead' })).status).toBe(200);
    await waitForNotification(stack, id);
    const story = await explain(id, p.id);
    expect(story.escalation).toEqual({
      repeat: 0,
      levels: [{ afterSeconds: 600, channels: null, ownAudience: false }],
      fired: [],
      reachedAt: [],
    });
    expect(story.acknowledgement).toMatchObject({
      state: 'acknowledged',
      by: 'ops-lead',
      at: expect.any(String),
    });
    expect(story.story).toContain(`Acknowledged by ops-lead at ${story.acknowledgement.at}.`);
  });

  it('a person named only by an escalation level: not in the notification’s audience, reached at level 1', async () => {
    const first = await person('esc1');
    const second = await person('esc2');
    const id = await send({
      to: { recipients: [first.id] },
      channels: ['inapp'],
      escalation: { levels: [{ afterSeconds: 1, recipients: [second.id] }] },
    });
    const story = await explain(id, second.id);
    expect(story.resolution.map((r: Json) => [r.level, r.status])).toEqual([
      [0, 'not_resolved'],
      [1, 'resolved'],
    ]);
    expect(story.resolution[1].via).toEqual([{ kind: 'recipient', group: null, address: null }]);
    expect(story.channels).toEqual([
      expect.objectContaining({ channel: 'inapp', level: 1, decision: 'sent' }),
    ]);
    expect(story.escalation).toMatchObject({ fired: [1], reachedAt: [1] });
    expect(story.acknowledgement.state).toBe('not_acknowledged');
    expect(story.outcome).toBe('reached');
    expect(story.story).toContain('Resolved for escalation level 1: named directly in the request.');
  });

  it('400 naming recipient when it is missing, 400 for a malformed id, 404 for an unknown notification', async () => {
    const missing = await stack.api('GET', `/v1/notifications/${groupSend.id}/explain`);
    expectError(missing, 400, 'validation_failed');
    expect(missing.body.error.details.map((d: Json) => d.path)).toEqual(['recipient']);
    expectError(
      await stack.api('GET', '/v1/notifications/nope/explain?recipient=x'),
      400,
      'validation_failed',
    );
    expectError(
      await stack.api('GET', `/v1/notifications/${randomUUID()}/explain?recipient=x`),
      404,
      'not_found',
    );
  });
});

describe('GET /v1/recipients/{externalId}/notifications', () => {
  it('lists what reached or targeted the person, newest first, with each outcome, page by page', async () => {
    const p = await person('side');
    const g = await group([]);
    const direct = await send({ to: { recipients: [p.id] } });
    const toGroup = await send({ to: { groups: [g.key] } });
    expect((await stack.api('PUT', `/v1/groups/${g.key}/members/${p.id}`)).status).toBe(201);
    // Sent to the group before they joined: listed (it targets their group), not reached.
    const page = await stack.api('GET', `/v1/recipients/${p.id}/notifications?limit=1`);
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(1);
    expect(page.body.items[0]).toMatchObject({
      id: toGroup,
      outcome: 'not_resolved',
      deliveries: [],
      links: { explain: `/v1/notifications/${toGroup}/explain?recipient=${p.id}` },
    });
    expect(page.body.items[0].reason).toMatch(/^joined group Explain grp-\S+ at .*, after the send at /);
    const next = await stack.api(
      'GET',
      `/v1/recipients/${p.id}/notifications?limit=1&cursor=${page.body.nextCursor}`,
    );
    expect(next.body.items).toHaveLength(1);
    expect(next.body.items[0]).toMatchObject({ id: direct, outcome: 'reached', reason: null });
    expect(next.body.items[0].deliveries.map((d: Json) => `${d.channel}:${d.status}`).sort()).toEqual([
      'email:sent',
      'inapp:sent',
    ]);
    expect(next.body.nextCursor).toBeNull();
    const linked = await stack.api('GET', page.body.items[0].links.explain);
    expect(linked.body.resolution[0].reasons[0].code).toBe('joined_after_send');
  });

  it('404 for an unknown recipient, 400 for a forged cursor', async () => {
    expectError(await stack.api('GET', `/v1/recipients/${uniq('ghost')}/notifications`), 404, 'not_found');
    const p = await person('cursor');
    expectError(
      await stack.api('GET', `/v1/recipients/${p.id}/notifications?cursor=abc`),
      400,
      'validation_failed',
    );
  });
});

describe('herald explain', () => {
  const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const herald = (...args: string[]) => {
    const result = spawnSync(TSX, ['scripts/herald.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: stack.env.databaseUrl },
      encoding: 'utf8',
      timeout: 90_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  it('prints the story readably (exit 0), or JSON with --json', async () => {
    const member = await person('climember');
    const g = await group([member.id]);
    const id = await send({ to: { groups: [g.key] } });
    const printed = herald('explain', id, member.id);
    expect(printed).toMatchObject({ status: 0, stderr: '' });
    expect(printed.stdout).toContain(`Recipient ${member.id} (Person ${member.id}).`);
    expect(printed.stdout).toContain(`Resolved for the notification through group ${g.name} (key ${g.key}`);
    expect(printed.stdout).toMatch(
      new RegExp(`^email → ${member.email}: sent at \\S+ after 1 attempt\\.$`, 'm'),
    );
    expect(printed.stdout.trim().split('\n').pop()).toBe('Outcome: reached.');

    const json = herald('explain', id, member.id, '--json', '--tenant', stack.tenantId);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      outcome: 'reached',
      recipient: { externalId: member.id },
    });
  });

  it('exits 2 with a message for an unknown notification, an id that is none, a missing argument', () => {
    const unknown = randomUUID();
    expect(herald('explain', unknown, 'someone')).toMatchObject({
      status: 2,
      stdout: '',
      stderr: `herald: explain: no notification ${unknown}\n`,
    });
    expect(herald('explain', 'not-a-uuid', 'someone')).toMatchObject({ status: 2 });
    expect(herald('explain', 'not-a-uuid', 'someone').stderr).toContain('is not a notification id');
    expect(herald('explain', unknown).status).toBe(2);
  });
});
