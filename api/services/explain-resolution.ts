/**
 * How a person came to be in a notification's audience, or why not. The delivery log does not
 * record the group a row came through, so it is reconstructed: the request keeps its audience
 * (`to`, escalation levels), and group_members keeps when each member was added (`added_at`). A
 * member added before the level was resolved was resolved through that group; one added after
 * "joined after the send". A membership removed since leaves no trace but the person's rows.
 */
import type { Audience } from '../../common/types';
import { getRecipient, type Recipient } from '../../db/queries/recipients';
import { recipientsWithAddress, type Membership } from '../../db/queries/explain';
import type { Queryable } from '../../db/queries/recipients';

/** Who the `recipient` parameter names. */
export type Subject =
  | { kind: 'person'; query: string; recipient: Recipient; matchedBy: 'externalId' | 'address' }
  | { kind: 'address'; query: string; address: string; owners: string[] }
  | { kind: 'unknown'; query: string };

const looksLikeEmail = (s: string) => s.includes('@');
const looksLikePhone = (s: string) => /^\+[1-9]\d{6,14}$/.test(s);

/**
 * An external id first; else an address: the one person who has it, or the raw address (with the
 * people who share it, when several do); else unknown.
 */
export async function identifySubject(db: Queryable, tenantId: string, query: string): Promise<Subject> {
  const recipient = await getRecipient(db, tenantId, query);
  if (recipient) return { kind: 'person', query, recipient, matchedBy: 'externalId' };
  if (!looksLikeEmail(query) && !looksLikePhone(query)) return { kind: 'unknown', query };
  const address = looksLikeEmail(query) ? query.toLowerCase() : query;
  const owners = await recipientsWithAddress(db, tenantId, address);
  if (owners.length === 1) {
    const owner = await getRecipient(db, tenantId, owners[0]!);
    if (owner) return { kind: 'person', query, recipient: owner, matchedBy: 'address' };
  }
  return { kind: 'address', query, address, owners };
}

/** The raw recipient keys (`email:…`, `phone:…`) the subject's rows may carry. */
export function rawKeysOf(subject: Subject): string[] {
  if (subject.kind === 'address')
    return [looksLikeEmail(subject.address) ? `email:${subject.address}` : `phone:${subject.address}`];
  if (subject.kind === 'unknown') return [];
  const r = subject.recipient;
  return [
    ...(r.email ? [`email:${r.email.toLowerCase()}`] : []),
    ...[r.phone, r.whatsapp].flatMap((p) => (p ? [`phone:${p}`] : [])),
  ];
}

/** One way the person was in a level's audience. */
export interface ResolvedVia {
  kind: 'recipient' | 'group' | 'address';
  group: { key: string; name: string; memberSince: string } | null;
  /** The raw address of the request that is theirs. */
  address: string | null;
}

/** Why a person is not (or not fully) in a level's audience. */
export interface ResolutionReason {
  code:
    | 'recipient_unknown'
    | 'not_in_audience'
    | 'not_member_of_targeted_groups'
    | 'joined_after_send'
    | 'membership_ended'
    | 'address_of_person'
    | 'address_merged';
  message: string;
  group: { key: string; name: string; joinedAt: string } | null;
  /** The other person (or raw address) a shared address went to. */
  with: string | null;
}

export interface LevelResolution {
  level: number;
  /** `resolved`: the person has rows at this level (or their address was merged into someone's). */
  status: 'resolved' | 'not_resolved';
  via: ResolvedVia[];
  reasons: ResolutionReason[];
}

/** The groups a request names that one of the person's memberships matches (by key or by name). */
const matching = (refs: string[], memberships: Membership[]) =>
  memberships.filter((m) => refs.includes(m.groupKey) || refs.includes(m.groupName));

/**
 * Resolves one level's audience for a known person. `resolvedAt`: when the level was resolved (its
 * first row of theirs, else the notification's creation); `hasRows`: the person has rows at this level.
 */
export function resolvePersonAtLevel(
  level: number,
  to: Audience,
  recipient: Recipient,
  memberships: Membership[],
  at: { createdAt: string; resolvedAt: string; hasRows: boolean },
): LevelResolution {
  const via: ResolvedVia[] = [];
  const reasons: ResolutionReason[] = [];
  if ((to.recipients ?? []).includes(recipient.externalId))
    via.push({ kind: 'recipient', group: null, address: null });
  const targeted = to.groups ?? [];
  const cutoff = Date.parse(at.hasRows ? at.resolvedAt : at.createdAt);
  for (const m of matching(targeted, memberships)) {
    const group = { key: m.groupKey, name: m.groupName };
    if (Date.parse(m.addedAt) <= cutoff) {
      via.push({ kind: 'group', group: { ...group, memberSince: m.addedAt }, address: null });
    } else if (!at.hasRows) {
      reasons.push({
        code: 'joined_after_send',
        message: `joined group ${m.groupName} at ${m.addedAt}, after the send at ${at.createdAt}`,
        group: { ...group, joinedAt: m.addedAt },
        with: null,
      });
    }
  }
  const emails = (to.emails ?? []).map((e) => e.toLowerCase());
  const own = recipient.email?.toLowerCase();
  if (own && emails.includes(own)) via.push({ kind: 'address', group: null, address: own });
  for (const phone of [recipient.phone, recipient.whatsapp])
    if (phone && (to.phones ?? []).includes(phone))
      via.push({ kind: 'address', group: null, address: phone });

  if (via.length === 0 && at.hasRows) {
    reasons.push({
      code: 'membership_ended',
      message: 'was resolved at send time, through a group membership that has ended since',
      group: null,
      with: null,
    });
  } else if (via.length === 0 && reasons.length === 0) {
    if (targeted.length > 0) {
      const theirs = memberships.map((m) => m.groupName);
      reasons.push({
        code: 'not_member_of_targeted_groups',
        message:
          `not a member of any targeted group (${targeted.join(', ')}); ` +
          (theirs.length > 0 ? `member of ${theirs.join(', ')}` : 'member of no group'),
        group: null,
        with: null,
      });
    }
    reasons.push({
      code: 'not_in_audience',
      message:
        'not in the audience: not named as a recipient, not in a targeted group, no address of theirs in the request',
      group: null,
      with: null,
    });
  }
  return { level, status: at.hasRows || via.length > 0 ? 'resolved' : 'not_resolved', via, reasons };
}

/** Resolves one level's audience for a raw address (no single person has it). */
export function resolveAddressAtLevel(
  level: number,
  to: Audience,
  subject: Extract<Subject, { kind: 'address' }>,
  hasRows: boolean,
): LevelResolution {
  const listed = looksLikeEmail(subject.address)
    ? (to.emails ?? []).map((e) => e.toLowerCase()).includes(subject.address)
    : (to.phones ?? []).includes(subject.address);
  const via: ResolvedVia[] = listed ? [{ kind: 'address', group: null, address: subject.address }] : [];
  const reasons: ResolutionReason[] = [];
  if (!listed) {
    for (const owner of subject.owners)
      reasons.push({
        code: 'address_of_person',
        message: `the address belongs to recipient ${owner}: explain ${owner} for their story`,
        group: null,
        with: owner,
      });
    reasons.push({
      code: 'not_in_audience',
      message: 'not in the audience as a raw address: the request does not list it',
      group: null,
      with: null,
    });
  }
  return { level, status: hasRows || listed ? 'resolved' : 'not_resolved', via, reasons };
}

export const unknownResolution = (query: string): LevelResolution => ({
  level: 0,
  status: 'not_resolved',
  via: [],
  reasons: [
    {
      code: 'recipient_unknown',
      message: `recipient unknown: no recipient with the id or address '${query}' in this tenant`,
      group: null,
      with: null,
    },
  ],
});
