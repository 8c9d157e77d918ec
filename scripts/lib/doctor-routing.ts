/**
 * `herald doctor`'s routing lines: for every routed event of every tenant, the groups it names that
 * do not exist (✗: its notifications without `to` are refused) or have no members (⚠: they reach
 * nobody) — the answer to "which groups do I need to create".
 */
import type { Pool } from 'pg';
import { listAllEventRoutings } from '../../db/queries/event-routing';
import { listGroups } from '../../db/queries/groups';
import { findExistingRecipientIds } from '../../db/queries/recipients';
import type { Check } from '../doctor';

const NAME = 'routing';

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');

/** One ✗ and one ⚠ line at most per routed event with a problem; one ✓ line when there is none. */
export async function routingChecks(pool: Pool, ms: number): Promise<Check[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([findProblems(pool), timeout]);
  } catch (error) {
    return [{ name: NAME, status: 'fail', detail: (error as Error).message, fix: 'check the database' }];
  } finally {
    clearTimeout(timer);
  }
}

async function findProblems(pool: Pool): Promise<Check[]> {
  const routings = await listAllEventRoutings(pool);
  if (routings.length === 0) return [{ name: NAME, status: 'ok', detail: 'no event has a default audience' }];
  const checks: Check[] = [];
  const tenants = new Set(routings.map((r) => r.tenantId));
  for (const tenantId of tenants) {
    const own = routings.filter((r) => r.tenantId === tenantId);
    // A routing names a group by key or by name, as `to.groups` does.
    const groups = new Map<string, number>();
    for (const g of await listGroups(pool, tenantId)) {
      groups.set(g.key, g.memberCount);
      groups.set(g.name, g.memberCount);
    }
    const people = await findExistingRecipientIds(pool, tenantId, [
      ...new Set(own.flatMap((r) => r.recipients)),
    ]);
    for (const routing of own) {
      const where = `${tenantId}/${routing.event}`;
      const missing = routing.groups.filter((g) => !groups.has(g));
      const unknownPeople = routing.recipients.filter((r) => !people.has(r));
      const empty = routing.groups.filter((g) => groups.get(g) === 0);
      if (missing.length > 0 || unknownPeople.length > 0) {
        const parts = [
          missing.length > 0 ? `no group ${quoted(missing)}` : '',
          unknownPeople.length > 0 ? `no recipient ${quoted(unknownPeople)}` : '',
        ].filter(Boolean);
        checks.push({
          name: NAME,
          status: 'fail',
          detail: `${where}: ${parts.join('; ')} (its notifications without "to" are refused)`,
          fix: `create ${missing.length > 0 ? 'the groups' : 'the recipients'} (herald groups import <file> --tenant ${tenantId}) or change the routing (herald routing import <file> --tenant ${tenantId})`,
        });
      }
      if (empty.length > 0) {
        checks.push({
          name: NAME,
          status: 'warn',
          detail: `${where}: ${empty.length === 1 ? 'group' : 'groups'} ${quoted(empty)} ${empty.length === 1 ? 'has' : 'have'} no members (reaching nobody)`,
          fix: `add members with herald groups import <file> --tenant ${tenantId}`,
        });
      }
    }
  }
  if (checks.length > 0) return checks;
  return [
    {
      name: NAME,
      status: 'ok',
      detail: `${routings.length} routed event(s) in ${tenants.size} tenant(s), every group exists and has members`,
    },
  ];
}
