import {
  resolveChannelDecision,
  type ChannelDecision,
  type ChannelDecisionInput,
  type PreferencesDocument,
} from '../common/preferences';
import { loadPreferencesFor } from '../db/queries/preferences';
import { expectError } from './support/expect-error';
import { startStack, uniq, type ApiResponse, type Stack } from './support/stack';

const EMAIL = 'tendai@example.com';
const PHONE = '+263771234567';
const OVERRIDE = 'alerts@example.com';

/** A job.failed (category jobs) for a backup job, on email, to a recipient with no preferences. */
const base: ChannelDecisionInput = {
  own: null,
  groups: [],
  event: 'job.failed',
  category: 'jobs',
  priority: 'normal',
  data: { jobType: 'backup', device: 'core-sw-1' },
  channel: 'email',
  address: EMAIL,
};
const sms = { channel: 'sms', address: PHONE } as const;
const critical = { priority: 'critical' } as const;
const mutedJobFailed: PreferencesDocument = { events: { 'job.failed': { enabled: false } } };
const mutedJobs: PreferencesDocument = { events: { 'category:jobs': { enabled: false } } };
const noSms: PreferencesDocument = { channels: { sms: false } };
const noSmsForJobFailed: PreferencesDocument = { events: { 'job.failed': { channels: { sms: false } } } };
const backupAndSync: PreferencesDocument = {
  events: { 'job.failed': { filters: { jobType: ['backup', 'sync'] } } },
};
const admins: PreferencesDocument = {
  events: { 'job.failed': { enabled: true }, 'backup.failed': { enabled: true } },
};

const sendTo = (address: string): ChannelDecision => ({ send: true, address });
const skip = (reason: string): ChannelDecision => ({ send: false, reason });

const decisions: { name: string; input: Partial<ChannelDecisionInput>; expected: ChannelDecision }[] = [
  // No preferences
  { name: 'no preferences: send to the own address', input: {}, expected: sendTo(EMAIL) },
  { name: 'no preferences, sms: send to the phone', input: sms, expected: sendTo(PHONE) },
  {
    name: 'no preferences, no address: send, address left out',
    input: { address: null },
    expected: { send: true },
  },
  { name: 'empty documents everywhere: send', input: { own: {}, groups: [{}, {}] }, expected: sendTo(EMAIL) },

  // Event opt-out
  { name: 'event opt-out', input: { own: mutedJobFailed }, expected: skip('opted out of job.failed') },
  {
    name: 'event opt-out, critical: sent',
    input: { own: mutedJobFailed, ...critical },
    expected: sendTo(EMAIL),
  },
  {
    name: 'event opt-out does not touch another event',
    input: { own: mutedJobFailed, event: 'job.succeeded' },
    expected: sendTo(EMAIL),
  },

  // Category opt-out
  { name: 'category opt-out', input: { own: mutedJobs }, expected: skip('opted out of category jobs') },
  {
    name: 'category opt-out, critical: sent',
    input: { own: mutedJobs, ...critical },
    expected: sendTo(EMAIL),
  },
  {
    name: 'category opt-out, the event re-enabled: sent',
    input: { own: { events: { ...mutedJobs.events, 'job.failed': { enabled: true } } } },
    expected: sendTo(EMAIL),
  },
  {
    name: 'category channel opt-out',
    input: { own: { events: { 'category:jobs': { channels: { sms: false } } } }, ...sms },
    expected: skip('opted out of sms for category jobs'),
  },
  {
    name: 'event without a category: category rules do not apply',
    input: { own: mutedJobs, category: null },
    expected: sendTo(EMAIL),
  },

  // Channel opt-out, global and per event
  { name: 'global channel opt-out', input: { own: noSms, ...sms }, expected: skip('opted out of sms') },
  { name: 'global channel opt-out, other channel: sent', input: { own: noSms }, expected: sendTo(EMAIL) },
  {
    name: 'global channel opt-out, critical: sent',
    input: { own: noSms, ...sms, ...critical },
    expected: sendTo(PHONE),
  },
  {
    name: 'per-event channel opt-out',
    input: { own: noSmsForJobFailed, ...sms },
    expected: skip('opted out of sms for job.failed'),
  },
  {
    name: 'per-event channel opt-out, other channel: sent',
    input: { own: noSmsForJobFailed },
    expected: sendTo(EMAIL),
  },
  {
    name: 'per-event channel opt-out, critical: sent',
    input: { own: noSmsForJobFailed, ...sms, ...critical },
    expected: sendTo(PHONE),
  },
  {
    name: 'per-event channel switch on beats the global switch off',
    input: {
      own: { channels: { sms: false }, events: { 'job.failed': { channels: { sms: true } } } },
      ...sms,
    },
    expected: sendTo(PHONE),
  },
  {
    name: 'per-event channel switch beats enabled: false at the same level (mute all but sms)',
    input: { own: { events: { 'job.failed': { enabled: false, channels: { sms: true } } } }, ...sms },
    expected: sendTo(PHONE),
  },
  {
    name: 'enabled: true on the event does not lift the global channel switch',
    input: {
      own: { channels: { sms: false }, events: { ...mutedJobs.events, 'job.failed': { enabled: true } } },
      ...sms,
    },
    expected: skip('opted out of sms'),
  },

  // Email override
  {
    name: 'email override on email',
    input: { own: { emailOverride: OVERRIDE } },
    expected: sendTo(OVERRIDE),
  },
  {
    name: 'email override does not touch sms',
    input: { own: { emailOverride: OVERRIDE }, ...sms },
    expected: sendTo(PHONE),
  },
  {
    name: 'email override without an own email address',
    input: { own: { emailOverride: OVERRIDE }, address: null },
    expected: sendTo(OVERRIDE),
  },
  {
    name: 'email override null: own address',
    input: { own: { emailOverride: null } },
    expected: sendTo(EMAIL),
  },
  {
    name: 'email override still applies to a critical notification the recipient muted',
    input: { own: { ...mutedJobFailed, emailOverride: OVERRIDE }, ...critical },
    expected: sendTo(OVERRIDE),
  },
  {
    name: 'email override of an opted-out recipient: not sent',
    input: { own: { ...mutedJobFailed, emailOverride: OVERRIDE } },
    expected: skip('opted out of job.failed'),
  },

  // Attribute filters
  { name: 'filter match', input: { own: backupAndSync }, expected: sendTo(EMAIL) },
  {
    name: 'filter mismatch',
    input: { own: backupAndSync, data: { jobType: 'restore' } },
    expected: skip('filtered out: jobType not in [backup, sync]'),
  },
  {
    name: 'filter on a missing attribute',
    input: { own: backupAndSync, data: {} },
    expected: skip('filtered out: jobType not in [backup, sync]'),
  },
  {
    name: 'filter compares exactly: the string "5" is not the number 5',
    input: { own: { events: { 'job.failed': { filters: { site: [5] } } } }, data: { site: '5' } },
    expected: skip('filtered out: site not in [5]'),
  },
  {
    name: 'filter on an array attribute: any element matches',
    input: { own: backupAndSync, data: { jobType: ['restore', 'sync'] } },
    expected: sendTo(EMAIL),
  },
  {
    name: 'every filtered attribute must match',
    input: {
      own: { events: { 'job.failed': { filters: { jobType: ['backup'], device: ['edge-1'] } } } },
    },
    expected: skip('filtered out: device not in [edge-1]'),
  },
  {
    name: 'filter mismatch, critical: sent (critical bypasses filters)',
    input: { own: backupAndSync, data: { jobType: 'restore' }, ...critical },
    expected: sendTo(EMAIL),
  },
  {
    name: 'category filters apply under a per-event channel switch',
    input: {
      own: {
        events: {
          'category:jobs': { filters: { jobType: ['sync'] } },
          'job.failed': { channels: { email: true } },
        },
      },
    },
    expected: skip('filtered out: jobType not in [sync]'),
  },
  {
    name: 'filters: {} on the event lifts its category filters',
    input: {
      own: { events: { 'category:jobs': { filters: { jobType: ['sync'] } }, 'job.failed': { filters: {} } } },
    },
    expected: sendTo(EMAIL),
  },
  {
    name: 'filters are checked after an opt-out: the opt-out is the reason',
    input: { own: { events: { 'job.failed': { enabled: false, filters: { jobType: ['sync'] } } } } },
    expected: skip('opted out of job.failed'),
  },

  // Group defaults
  {
    name: 'group default disabling',
    input: { groups: [mutedJobFailed] },
    expected: skip('opted out of job.failed (group default)'),
  },
  {
    name: 'group default disabling a channel',
    input: { groups: [noSms], ...sms },
    expected: skip('opted out of sms (group default)'),
  },
  {
    name: 'group enabling wins over group disabling, in either order',
    input: { groups: [mutedJobFailed, admins] },
    expected: sendTo(EMAIL),
  },
  { name: '… and the other order', input: { groups: [admins, mutedJobFailed] }, expected: sendTo(EMAIL) },
  {
    name: 'admins get every failure: group event rule beats the own category opt-out',
    input: { own: mutedJobs, groups: [admins] },
    expected: sendTo(EMAIL),
  },
  {
    name: 'admins get every failure, but not on a channel they switched off',
    input: { own: noSms, groups: [admins], ...sms },
    expected: skip('opted out of sms'),
  },
  {
    name: 'own rule beats a group default: own opt-out over group enabling',
    input: { own: mutedJobFailed, groups: [admins] },
    expected: skip('opted out of job.failed'),
  },
  {
    name: 'own rule beats a group default: own enabling over group opt-out',
    input: { own: { events: { 'job.failed': { enabled: true } } }, groups: [mutedJobFailed] },
    expected: sendTo(EMAIL),
  },
  {
    name: "a group's channel switch for the event beats the own global switch",
    input: { own: noSms, groups: [{ events: { 'job.failed': { channels: { sms: true } } } }], ...sms },
    expected: sendTo(PHONE),
  },
  {
    name: 'own global switch on beats a group global switch off',
    input: { own: { channels: { sms: true } }, groups: [noSms], ...sms },
    expected: sendTo(PHONE),
  },
  {
    name: 'group event opt-out beats the own global channel switch on',
    input: { own: { channels: { email: true } }, groups: [mutedJobFailed] },
    expected: skip('opted out of job.failed (group default)'),
  },
  {
    name: 'group default opt-out, critical: sent',
    input: { groups: [mutedJobFailed, noSms], ...sms, ...critical },
    expected: sendTo(PHONE),
  },
  {
    name: 'group filter (a team that only wants some job types)',
    input: { groups: [backupAndSync], data: { jobType: 'restore' } },
    expected: skip('filtered out: jobType not in [backup, sync] (group default)'),
  },
  {
    name: 'group filter, matching one group is enough',
    input: {
      groups: [backupAndSync, { events: { 'job.failed': { filters: { jobType: ['restore'] } } } }],
      data: { jobType: 'restore' },
    },
    expected: sendTo(EMAIL),
  },
  {
    name: 'own filters beat group filters',
    input: {
      own: { events: { 'job.failed': { filters: { jobType: ['restore'] } } } },
      groups: [backupAndSync],
      data: { jobType: 'restore' },
    },
    expected: sendTo(EMAIL),
  },
];

describe('resolveChannelDecision', () => {
  it.each(decisions)('$name', ({ input, expected }) => {
    expect(resolveChannelDecision({ ...base, ...input })).toEqual(expected);
  });
});

/** The detail paths of an error response, sorted. */
const detailPaths = (response: ApiResponse) =>
  response.body.error.details.map((d: { path: string }) => d.path).sort();

describe('preferences over the API', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  const prefsPath = (id: string) => `/v1/recipients/${id}/preferences`;
  const groupPrefsPath = (key: string) => `/v1/groups/${key}/preferences`;
  const newRecipient = async (prefix: string) => {
    const id = uniq(prefix);
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { email: `${id}@example.com` })).status).toBe(201);
    return id;
  };
  const newGroup = async (prefix: string) => {
    const key = uniq(prefix);
    expect((await stack.api('PUT', `/v1/groups/${key}`, { name: `Group ${key}` })).status).toBe(201);
    return key;
  };

  const full: PreferencesDocument = {
    channels: { sms: false, push: true },
    events: {
      'category:jobs': { enabled: false },
      'job.failed': {
        enabled: true,
        channels: { sms: true },
        filters: { jobType: ['backup', 'sync'], retry: [1, 2] },
      },
      'ticket.assigned': { enabled: false },
    },
    emailOverride: OVERRIDE,
  };

  it('GET on a new recipient is {}; PUT replaces and GET returns the same document', async () => {
    const id = await newRecipient('prefs');
    const empty = await stack.api('GET', prefsPath(id));
    expect(empty).toMatchObject({ status: 200, body: {} });

    const put = await stack.api('PUT', prefsPath(id), full);
    expect(put.status).toBe(200);
    expect(put.body).toEqual(full);
    expect((await stack.api('GET', prefsPath(id))).body).toEqual(full);

    // A PUT replaces the whole document.
    const smaller = { events: { 'job.failed': { enabled: false } } };
    expect((await stack.api('PUT', prefsPath(id), smaller)).body).toEqual(smaller);
    expect((await stack.api('GET', prefsPath(id))).body).toEqual(smaller);
    expect((await stack.api('PUT', prefsPath(id), {})).body).toEqual({});
    expect((await stack.api('GET', prefsPath(id))).body).toEqual({});
  });

  it('404s for an unknown recipient, on GET and PUT, and stores nothing', async () => {
    const id = uniq('nobody');
    expectError(await stack.api('GET', prefsPath(id)), 404, 'not_found');
    expectError(await stack.api('PUT', prefsPath(id), full), 404, 'not_found');
    const rows = await stack.db.query('SELECT 1 FROM preferences WHERE external_id = $1', [id]);
    expect(rows.rowCount).toBe(0);
  });

  const invalid: { name: string; body: unknown; paths: string[] }[] = [
    {
      name: 'unknown channel in an event rule',
      body: { events: { 'job.failed': { channels: { pager: true } } } },
      paths: ['events.job.failed.channels.pager'],
    },
    { name: 'unknown global channel', body: { channels: { fax: false } }, paths: ['channels.fax'] },
    { name: 'channel switch not a boolean', body: { channels: { sms: 'off' } }, paths: ['channels.sms'] },
    { name: 'bad email override', body: { emailOverride: 'not-an-email' }, paths: ['emailOverride'] },
    {
      name: 'filter values not an array',
      body: { events: { 'job.failed': { filters: { jobType: 'backup' } } } },
      paths: ['events.job.failed.filters.jobType'],
    },
    {
      name: 'filter with no allowed values',
      body: { events: { 'job.failed': { filters: { jobType: [] } } } },
      paths: ['events.job.failed.filters.jobType'],
    },
    {
      name: 'filter value an object',
      body: { events: { 'job.failed': { filters: { jobType: [{ a: 1 }] } } } },
      paths: ['events.job.failed.filters.jobType[0]'],
    },
    {
      name: 'enabled not a boolean',
      body: { events: { 'job.failed': { enabled: 'yes' } } },
      paths: ['events.job.failed.enabled'],
    },
    { name: 'unknown top-level field', body: { quietHours: {} }, paths: ['body'] },
    {
      name: 'several at once',
      body: {
        channels: { fax: true },
        emailOverride: 42,
        events: { 'job.failed': { channels: { pager: true } } },
      },
      paths: ['channels.fax', 'emailOverride', 'events.job.failed.channels.pager'],
    },
  ];

  it.each(invalid)('$name → 400 naming $paths, nothing stored', async ({ body, paths }) => {
    const id = await newRecipient('bad-prefs');
    const response = await stack.api('PUT', prefsPath(id), body);
    expectError(response, 400, 'validation_failed');
    expect(detailPaths(response)).toEqual(paths);
    expect((await stack.api('GET', prefsPath(id))).body).toEqual({});
  });

  it('names the unknown channel in the message', async () => {
    const id = await newRecipient('bad-prefs');
    const response = await stack.api('PUT', prefsPath(id), { channels: { pager: true } });
    expect(response.body.error.details[0].message).toContain('unknown channel');
    expect(response.body.error.details[0].message).toContain('email');
  });

  it('an unknown event or category → 422 naming the key; categories are template categories', async () => {
    const id = await newRecipient('bad-prefs');
    const response = await stack.api('PUT', prefsPath(id), {
      events: { 'job.faild': { enabled: false }, 'category:nope': { enabled: false }, 'category:jobs': {} },
    });
    expectError(response, 422, 'validation_failed');
    expect(detailPaths(response)).toEqual(['events.category:nope', 'events.job.faild']);
    expect((await stack.api('GET', prefsPath(id))).body).toEqual({});
  });

  it('deleting a recipient deletes its preferences', async () => {
    const id = await newRecipient('leaving');
    expect((await stack.api('PUT', prefsPath(id), full)).status).toBe(200);
    expect((await stack.api('DELETE', `/v1/recipients/${id}`)).status).toBe(204);
    const rows = await stack.db.query('SELECT 1 FROM preferences WHERE external_id = $1', [id]);
    expect(rows.rowCount).toBe(0);
    expectError(await stack.api('GET', prefsPath(id)), 404, 'not_found');
    // Recreated, the recipient starts without preferences.
    expect((await stack.api('PUT', `/v1/recipients/${id}`, {})).status).toBe(201);
    expect((await stack.api('GET', prefsPath(id))).body).toEqual({});
  });

  describe('group preferences', () => {
    it('GET {} on a new group; PUT, GET round-trip; DELETE resets; unknown group 404', async () => {
      const key = await newGroup('admins');
      expect(await stack.api('GET', groupPrefsPath(key))).toMatchObject({ status: 200, body: {} });

      const put = await stack.api('PUT', groupPrefsPath(key), admins);
      expect(put.status).toBe(200);
      expect(put.body).toEqual(admins);
      expect((await stack.api('GET', groupPrefsPath(key))).body).toEqual(admins);

      expect((await stack.api('DELETE', groupPrefsPath(key))).status).toBe(204);
      expect((await stack.api('GET', groupPrefsPath(key))).body).toEqual({});
      expect((await stack.api('DELETE', groupPrefsPath(key))).status).toBe(204);

      const unknown = uniq('no-group');
      expectError(await stack.api('GET', groupPrefsPath(unknown)), 404, 'not_found');
      expectError(await stack.api('PUT', groupPrefsPath(unknown), admins), 404, 'not_found');
      expectError(await stack.api('DELETE', groupPrefsPath(unknown)), 404, 'not_found');
    });

    it('validates like a recipient document, and refuses an email override', async () => {
      const key = await newGroup('bad');
      const response = await stack.api('PUT', groupPrefsPath(key), {
        emailOverride: OVERRIDE,
        events: { 'job.failed': { channels: { pager: true } } },
      });
      expectError(response, 400, 'validation_failed');
      // An unknown field is reported on the body, like every other route's.
      expect(detailPaths(response)).toEqual(['body', 'events.job.failed.channels.pager']);
      expect(response.body.error.message).toContain('emailOverride');
      const unknownEvent = await stack.api('PUT', groupPrefsPath(key), { events: { 'nope.nope': {} } });
      expectError(unknownEvent, 422, 'validation_failed');
      expect(detailPaths(unknownEvent)).toEqual(['events.nope.nope']);
      expect((await stack.api('GET', groupPrefsPath(key))).body).toEqual({});
    });

    it('deleting a group deletes its preferences', async () => {
      const key = await newGroup('doomed');
      expect((await stack.api('PUT', groupPrefsPath(key), admins)).status).toBe(200);
      expect((await stack.api('DELETE', `/v1/groups/${key}`)).status).toBe(204);
      const rows = await stack.db.query('SELECT 1 FROM group_preferences WHERE group_key = $1', [key]);
      expect(rows.rowCount).toBe(0);
    });
  });

  it('loadPreferencesFor returns own and group documents for several recipients in one query', async () => {
    const [alice, bob, carol] = [
      await newRecipient('alice'),
      await newRecipient('bob'),
      await newRecipient('carol'),
    ];
    const unknown = uniq('nobody');
    // Keys chosen so that the group order (by key) is a-… then b-….
    const prefix = uniq('load');
    const [groupA, groupB, groupC] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const key of [groupB, groupA, groupC]) {
      expect((await stack.api('PUT', `/v1/groups/${key}`, { name: `Group ${key}` })).status).toBe(201);
    }
    const docA: PreferencesDocument = { events: { 'job.failed': { enabled: true } } };
    const docB: PreferencesDocument = { channels: { sms: false } };
    expect((await stack.api('PUT', groupPrefsPath(groupA), docA)).status).toBe(200);
    expect((await stack.api('PUT', groupPrefsPath(groupB), docB)).status).toBe(200);
    // alice: own + groups B and A (+ C, which has no defaults); bob: group A only; carol: nothing.
    for (const [key, id] of [
      [groupB, alice],
      [groupA, alice],
      [groupC, alice],
      [groupA, bob],
    ] as const) {
      expect((await stack.api('PUT', `/v1/groups/${key}/members/${id}`)).status).toBe(201);
    }
    expect((await stack.api('PUT', prefsPath(alice), full)).status).toBe(200);

    const client = await stack.db.connect();
    try {
      const query = jest.spyOn(client, 'query');
      const loaded = await loadPreferencesFor(client, stack.tenantId, [alice, bob, carol, unknown, alice]);
      expect(query).toHaveBeenCalledTimes(1);
      expect(loaded).toEqual(
        new Map([
          [alice, { own: full, groups: [docA, docB] }],
          [bob, { own: null, groups: [docA] }],
          [carol, { own: null, groups: [] }],
          [unknown, { own: null, groups: [] }],
        ]),
      );
      // Another tenant sees none of it.
      const elsewhere = await loadPreferencesFor(client, uniq('tenant'), [alice]);
      expect(elsewhere.get(alice)).toEqual({ own: null, groups: [] });
      expect((await loadPreferencesFor(client, stack.tenantId, [])).size).toBe(0);
    } finally {
      client.release();
    }
  });

  it('documents the preference routes in /openapi.json', async () => {
    const { status, body } = await stack.api('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(Object.keys(body.paths['/v1/recipients/{externalId}/preferences']).sort()).toEqual(['get', 'put']);
    expect(Object.keys(body.paths['/v1/groups/{key}/preferences']).sort()).toEqual(['delete', 'get', 'put']);
    expect(body.components.schemas.Preferences).toBeDefined();
  });
});
