/**
 * Preferences: what a recipient wants to receive, on which channels, and where email goes.
 * A group has a document of the same shape (without `emailOverride`): defaults for its members.
 *
 * ```json
 * {
 *   "channels": { "sms": false },
 *   "events": {
 *     "category:jobs": { "enabled": false },
 *     "job.failed": { "enabled": true, "channels": { "sms": true }, "filters": { "jobType": ["backup", "sync"] } }
 *   },
 *   "emailOverride": "alerts@example.com",
 *   "unsubscribed": { "email": ["marketing"] }
 * }
 * ```
 * - `channels`: switches for every event, by channel name.
 * - `events`: rules keyed by an event key (`job.failed`) or a category (`category:jobs`, the template's category):
 *   `enabled` (false mutes it), `channels` (switches for this event or category only) and `filters`
 *   (top-level data attribute → allowed values).
 * - `emailOverride`: email goes to this address instead of the recipient's own.
 * - `unsubscribed.email`: categories the recipient unsubscribed from on email, usually with the one-click
 *   link in a message (RFC 8058, api/routes/unsubscribe.ts); only the recipient's own document has it.
 *
 * Resolution order, for one recipient, one notification and one channel:
 *
 * 1. **Critical.** A `critical` notification is sent on every channel it asks for, whatever the
 *    opt-outs, unsubscribes and filters say; only the email override still applies. (Its email carries
 *    no unsubscribe link either: one cannot opt out of what always arrives.)
 * 2. **Unsubscribed.** On email, a category in `unsubscribed.email` is an opt-out that nothing below
 *    overrides (no `enabled: true`, no group default): the person said "no more of these" to the mail
 *    itself. Events whose manifest says `unsubscribe: false` (password resets, security alerts) are
 *    exempt: they carry no link and still arrive.
 * 3. **Rules, most specific first.** The first level that decides wins:
 *    1. the recipient's rule for the event: `events[event].channels[channel]`, then `events[event].enabled`;
 *    2. the groups' rules for the event (same two);
 *    3. the recipient's rule for the category: `events["category:<c>"].channels[channel]`, then `.enabled`;
 *    4. the groups' rules for the category;
 *    5. the recipient's global switch `channels[channel]`;
 *    6. the groups' global switches.
 *
 *    A channel switch decides either way (`true` sends, `false` is an opt-out). `enabled: false` is an
 *    opt-out. `enabled: true` decides nothing on its own: it says "I want this event", so any *less
 *    specific* `enabled: false` below it is ignored, while channel switches below it still apply (mute
 *    the category, re-enable one event, and it still respects `channels.sms: false`).
 *    So the recipient's own rule beats a group default at the same level; a group default for an event
 *    beats the recipient's rule for its whole category ("admins get every failure", even with jobs muted),
 *    and a group's channel switch for an event beats the recipient's global switch for that channel.
 *    Among groups at one level, a group that enables wins over groups that disable; the order of the
 *    groups never changes the outcome.
 * 4. **Default.** When no level decides, send.
 * 5. **Filters.** When the outcome is "send", the filters of the most specific rule that has `filters`
 *    (same order: the recipient's event rule, the groups' event rules, the recipient's category rule,
 *    the groups' category rules) must all match: the data attribute's value must be one of the allowed
 *    values, compared exactly (an array value matches when any element does; a missing attribute does
 *    not). Among groups at one level, matching any one group's filters is enough. `filters: {}` on an
 *    event lifts its category's filters.
 * 6. **Address.** On the email channel the recipient's `emailOverride`, when set, replaces their email
 *    address (also for critical notifications); on other channels it does nothing.
 *
 * Reasons for not sending: `unsubscribed from category jobs`, `opted out of job.failed`, `opted out of sms for job.failed`,
 * `opted out of category jobs`, `opted out of sms for category jobs`, `opted out of sms`,
 * `filtered out: jobType not in [backup, sync]`; ` (group default)` is appended when a group decided.
 *
 * Pure: no I/O, importable by the API, activities and workflows.
 * @module
 */
import { z } from 'zod';
import { CHANNELS, type ChannelName, type Priority } from './types';

/** A value a filter allows, compared exactly with the notification's data attribute. */
export type FilterValue = string | number | boolean;

/** Channel name → on/off. An absent channel has no switch at this level. */
export type ChannelSwitches = Partial<Record<ChannelName, boolean>>;

/** A rule for one event key or one category (`category:<name>`). */
export interface EventRule {
  /** false: opted out of the event (or category); true: wanted, overriding less specific opt-outs. */
  enabled?: boolean;
  /** Switches for this event (or category) only; they beat `enabled` at the same level. */
  channels?: ChannelSwitches;
  /** Top-level data attribute → allowed values; every attribute must match. */
  filters?: Record<string, FilterValue[]>;
}

/** A recipient's preferences, or a group's defaults for its members (which have no `emailOverride`). */
export interface PreferencesDocument {
  /** Global switches, for every event. */
  channels?: ChannelSwitches;
  /** Keyed by event key (`job.failed`) or category (`category:jobs`). */
  events?: Record<string, EventRule>;
  /** Email goes here instead of the recipient's own address; null or absent: no override. */
  emailOverride?: string | null;
  /** Categories unsubscribed from, per channel (email only, for now); only a recipient's own document. */
  unsubscribed?: { email?: string[] };
}

/** The prefix of an `events` key naming a category rather than an event. */
export const CATEGORY_PREFIX = 'category:';

const isChannelName = (value: unknown): value is ChannelName =>
  typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);

const channelSwitches = z
  .partialRecord(z.custom<ChannelName>(isChannelName), z.boolean(), {
    error: (issue) =>
      issue.code === 'invalid_key' ? `unknown channel; channels are ${CHANNELS.join(', ')}` : undefined,
  })
  .meta({ description: `channel name (${CHANNELS.join(', ')}) → on/off` });

const filterValue = z.union([z.string().max(500), z.number(), z.boolean()], {
  error: 'allowed values are strings, numbers or booleans',
});

const eventRule = z
  .object({
    enabled: z.boolean().optional(),
    channels: channelSwitches.optional(),
    filters: z
      .record(
        z.string().min(1).max(100),
        z
          .array(filterValue, { error: 'must be an array of allowed values' })
          .min(1, 'list at least one allowed value (to mute the event, set enabled: false)')
          .max(100),
      )
      .refine((filters) => Object.keys(filters).length <= 20, 'at most 20 filtered attributes')
      .optional(),
  })
  .strict();

/** Validates a recipient's preferences document; error paths name the field (`events.job.failed.channels.pager`). */
export const PreferencesSchema = z
  .object({
    channels: channelSwitches.optional(),
    events: z
      .record(z.string().min(1).max(200), eventRule)
      .refine((events) => Object.keys(events).length <= 500, 'at most 500 event rules')
      .optional(),
    emailOverride: z.email({ message: 'not a valid email address' }).max(320).nullable().optional(),
    unsubscribed: z
      .object({
        email: z
          .array(z.string().min(1).max(100), { error: 'must be an array of category names' })
          .max(200)
          .optional()
          .meta({ description: "categories (a manifest's `category`) unsubscribed from on email" }),
      })
      .strict()
      .optional(),
  })
  .strict() satisfies z.ZodType<PreferencesDocument>;

/**
 * A group's defaults: the same document without `emailOverride` and `unsubscribed`, which only a
 * recipient can have (a group cannot unsubscribe its members).
 */
export const GroupPreferencesSchema = z.strictObject(
  PreferencesSchema.omit({ emailOverride: true, unsubscribed: true }).shape,
  {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      if (issue.keys.includes('emailOverride'))
        return "emailOverride: a group's defaults cannot override its members' email addresses";
      if (issue.keys.includes('unsubscribed'))
        return 'unsubscribed: only a recipient unsubscribes, a group cannot do it for its members';
      return undefined;
    },
  },
) satisfies z.ZodType<PreferencesDocument>;

/** Everything `resolveChannelDecision` needs about one recipient, one notification and one channel. */
export interface ChannelDecisionInput {
  /** The recipient's own preferences, or null when they have none. */
  own: PreferencesDocument | null;
  /** The defaults of every group the recipient is in, in a stable order (e.g. by group key). */
  groups: readonly PreferencesDocument[];
  event: string;
  /** The event's category from its template manifest; null: category rules do not apply. */
  category: string | null;
  priority: Priority;
  data: Readonly<Record<string, unknown>>;
  channel: ChannelName;
  /** The recipient's own address on this channel (email, phone…), or null when they have none. */
  address: string | null;
  /** false when the event's manifest says `unsubscribe: false`: unsubscribes do not apply to it. */
  unsubscribable?: boolean;
}

/**
 * `send: true` carries the address to use when there is one: the email override on email,
 * otherwise the recipient's own address.
 */
export type ChannelDecision = { send: true; address?: string } | { send: false; reason: string };

const GROUP_SUFFIX = ' (group default)';

/** true when any vote is true, false when votes are only false, undefined when nobody voted. */
function vote(votes: (boolean | undefined)[]): boolean | undefined {
  if (votes.includes(true)) return true;
  return votes.includes(false) ? false : undefined;
}

/** Why `filters` rejects `data`, or null when every filtered attribute matches. */
export function filterMismatch(
  filters: Readonly<Record<string, readonly FilterValue[]>>,
  data: Readonly<Record<string, unknown>>,
): string | null {
  for (const [attribute, allowed] of Object.entries(filters)) {
    const value = data[attribute];
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (!values.some((v) => (allowed as readonly unknown[]).includes(v))) {
      return `${attribute} not in [${allowed.join(', ')}]`;
    }
  }
  return null;
}

interface RuleLevel {
  rules: EventRule[];
  /** "job.failed" or "category jobs", for reasons. */
  label: string;
  suffix: string;
}

/** The rules of `docs` for one `events` key, skipping documents without one. */
function rulesFor(docs: readonly PreferencesDocument[], key: string): EventRule[] {
  return docs.flatMap((doc) => {
    const rule = doc.events && Object.hasOwn(doc.events, key) ? doc.events[key] : undefined;
    return rule ? [rule] : [];
  });
}

/** Steps 3 and 4 of the resolution order: true (send), a reason (opted out), or null (nobody decided). */
function decideBySwitches(
  levels: readonly RuleLevel[],
  globals: readonly { docs: readonly PreferencesDocument[]; suffix: string }[],
  channel: ChannelName,
): true | string | null {
  let wanted = false;
  for (const { rules, label, suffix } of levels) {
    const switched = vote(rules.map((rule) => rule.channels?.[channel]));
    if (switched !== undefined) return switched || `opted out of ${channel} for ${label}${suffix}`;
    const enabled = vote(rules.map((rule) => rule.enabled));
    if (enabled === true) wanted = true;
    if (enabled === false && !wanted) return `opted out of ${label}${suffix}`;
  }
  for (const { docs, suffix } of globals) {
    const switched = vote(docs.map((doc) => doc.channels?.[channel]));
    if (switched !== undefined) return switched || `opted out of ${channel}${suffix}`;
  }
  return null;
}

/** Step 5: why the most specific filters reject the data, or null when they pass (or there are none). */
function filterReason(levels: readonly RuleLevel[], data: Readonly<Record<string, unknown>>): string | null {
  for (const { rules, suffix } of levels) {
    const mismatches = rules.flatMap((rule) => (rule.filters ? [filterMismatch(rule.filters, data)] : []));
    if (mismatches.length === 0) continue;
    return mismatches.includes(null) ? null : `filtered out: ${mismatches[0]}${suffix}`;
  }
  return null;
}

/** Step 2: whether the recipient unsubscribed from this category on email. */
function isUnsubscribed(
  own: PreferencesDocument | null,
  category: string | null,
  unsubscribable = true,
): category is string {
  return unsubscribable && category !== null && (own?.unsubscribed?.email ?? []).includes(category);
}

/** Decides whether one recipient gets one notification on one channel, and at which address. */
export function resolveChannelDecision(input: ChannelDecisionInput): ChannelDecision {
  const { own, groups, event, category, channel } = input;
  const override = channel === 'email' ? own?.emailOverride : null;
  const address = override ?? input.address ?? undefined;
  const send: ChannelDecision = address === undefined ? { send: true } : { send: true, address };
  if (input.priority === 'critical') return send;
  if (channel === 'email' && isUnsubscribed(own, category, input.unsubscribable))
    return { send: false, reason: `unsubscribed from category ${category}` };

  const ownDocs = own ? [own] : [];
  const levels: RuleLevel[] = [
    { rules: rulesFor(ownDocs, event), label: event, suffix: '' },
    { rules: rulesFor(groups, event), label: event, suffix: GROUP_SUFFIX },
  ];
  if (category !== null) {
    const key = `${CATEGORY_PREFIX}${category}`;
    const label = `category ${category}`;
    levels.push(
      { rules: rulesFor(ownDocs, key), label, suffix: '' },
      { rules: rulesFor(groups, key), label, suffix: GROUP_SUFFIX },
    );
  }
  const globals = [
    { docs: ownDocs, suffix: '' },
    { docs: groups, suffix: GROUP_SUFFIX },
  ];

  const decided = decideBySwitches(levels, globals, channel);
  if (typeof decided === 'string') return { send: false, reason: decided };
  const filtered = filterReason(levels, input.data);
  return filtered === null ? send : { send: false, reason: filtered };
}
