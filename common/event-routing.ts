/**
 * Event routing: an event's default audience in a tenant, the groups and recipients a notification
 * of that event reaches when its request names nobody (`to` absent), or in addition to `to` with
 * `includeDefaults: true`. One schema for the API (`PUT /v1/events/{event}/routing`) and the
 * routing file (`herald routing import`), so both take exactly the same entries.
 *
 * Pure: no I/O.
 * @module
 */
import { z } from 'zod';
import type { Audience } from './types';

/** An event's default audience as stored; both lists may not be empty at once. */
export interface EventRouting {
  groups: string[];
  recipients: string[];
}

/**
 * A group by key or by name, as `to.groups` takes it. The group need not exist yet (herald doctor
 * names the missing ones), but the reference must be one a group could have: no control characters
 * (line breaks, tabs, NULs), no spaces around it (a name with them is a typo in a file).
 */
// eslint-disable-next-line no-control-regex
const GROUP_REF = /^[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f])?$/;
// eslint-disable-next-line no-control-regex
const RECIPIENT_ID = /^[^\u0000-\u001f\u007f]+$/;

const groupRef = z
  .string()
  .min(1, { message: 'must not be empty', abort: true })
  .max(255)
  .regex(
    GROUP_REF,
    'must not contain line breaks or other control characters, nor start or end with a space',
  );

/** A recipient's externalId, as `to.recipients` takes it. */
const recipientId = z
  .string()
  .min(1, { message: 'must not be empty', abort: true })
  .max(255)
  .regex(RECIPIENT_ID, 'must not contain line breaks or other control characters');

/** Each entry once: a repeat is almost always a typo for another name. */
const noRepeats = (list: string[], ctx: z.RefinementCtx) => {
  const first = new Map<string, number>();
  list.forEach((value, i) => {
    const at = first.get(value);
    if (at === undefined) first.set(value, i);
    else ctx.addIssue({ code: 'custom', path: [i], message: `"${value}" is repeated (first at [${at}])` });
  });
};

export const EventRoutingSchema = z
  .object({
    groups: z
      .array(groupRef)
      .max(100)
      .superRefine(noRepeats)
      .default([])
      .meta({
        description: 'groups by key or name (they need not exist yet: herald doctor names the missing)',
        example: ['System Admins', 'Sales Team'],
        uniqueItems: true,
      }),
    recipients: z
      .array(recipientId)
      .max(1_000)
      .superRefine(noRepeats)
      .default([])
      .meta({ description: 'recipients by externalId', example: ['cfo-1'], uniqueItems: true }),
  })
  .strict()
  .refine((r) => r.groups.length + r.recipients.length > 0, {
    message: 'name at least one group or recipient (to remove the routing, DELETE it)',
    path: ['groups'],
  })
  // What the refinement checks, said in the document.
  .meta({
    anyOf: (['groups', 'recipients'] as const).map((list) => ({
      required: [list],
      properties: { [list]: { minItems: 1 } },
    })),
  });

/** The routing's groups and recipients that `to` does not already name. */
export function routingAdditions(to: Audience | undefined, routing: EventRouting): EventRouting {
  const groups = new Set(to?.groups);
  const recipients = new Set(to?.recipients);
  return {
    groups: routing.groups.filter((g) => !groups.has(g)),
    recipients: routing.recipients.filter((r) => !recipients.has(r)),
  };
}

/**
 * The audience a notification gets: `to` as the client sent it, then the routing's additions. The
 * client's entries keep their positions, so `to.groups[1]` in an error still points at what it sent.
 */
export function withDefaultAudience(to: Audience | undefined, routing: EventRouting | null): Audience {
  if (!routing) return to ?? {};
  const added = routingAdditions(to, routing);
  const audience: Audience = { ...to };
  if (added.groups.length > 0) audience.groups = [...(to?.groups ?? []), ...added.groups];
  if (added.recipients.length > 0) audience.recipients = [...(to?.recipients ?? []), ...added.recipients];
  return audience;
}

/** Whether an audience names anyone at all. */
export const namesAnyone = (to: Audience): boolean =>
  Object.values(to).some((list) => Array.isArray(list) && list.length > 0);
