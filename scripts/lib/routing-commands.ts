/** `herald routing …`: each event's default audience, from a file, and the list of what is set. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import {
  importRouting,
  parseRoutingFile,
  type RoutingFile,
  type RoutingImportCounts,
  type RoutingProblem,
} from '../../db/import-routing';
import { listEventRoutings } from '../../db/queries/event-routing';
import { resolveGroupRefs } from '../../db/queries/groups';
import { TemplateRegistry } from '../../templates/registry';
import {
  CliError,
  expectArgs,
  formatTable,
  printJson,
  requireTenant,
  shift,
  usageError,
  withDatabase,
  type Args,
} from './cli';

export const ROUTING_USAGE = `  routing import <file> --tenant <id> [--prune]
                                  set events' default audiences (groups, recipients) from a YAML or JSON
                                  file, validated whole; --prune also removes routings the file does not list
  routing list --tenant <id> [--json]
                                  list a tenant's routed events with their groups and recipients`;

export async function runRouting(args: Args): Promise<void> {
  const [action] = args.positionals;
  const sub = shift(args);
  switch (action) {
    case 'import':
      expectArgs(sub, 'routing import', 1, ['--prune', '--tenant']);
      return importCommand(sub.positionals[0]!, sub);
    case 'list':
      expectArgs(sub, 'routing list', 0, ['--json', '--tenant']);
      return withDatabase(async (pool) =>
        listCommand(pool, await requireTenant(pool, sub, 'routing list'), sub.flags.has('--json')),
      );
    case undefined:
      throw usageError('routing: say import or list');
    default:
      throw usageError(`unknown command "routing ${action}"`);
  }
}

/** Validates the whole file before touching the database; then writes everything in one transaction. */
async function importCommand(file: string, args: Args): Promise<void> {
  if (!args.values.has('--tenant')) throw usageError('routing import: say which tenant with --tenant <id>');
  const text = await readInput(file);
  const builtIn = await TemplateRegistry.load();
  const { counts, missing } = await withDatabase(async (pool) => {
    const tenantId = await requireTenant(pool, args, 'routing import');
    // The tenant's catalogue (its own events too); nothing is written unless the whole file is valid.
    const catalogue = await builtIn.forTenant(pool, tenantId);
    const parsed = parseRoutingFile(text, path.basename(file), (e) => catalogue.has(e));
    if (!parsed.ok) throw invalidFile(file, parsed.problems);
    const counts = await importRouting(pool, tenantId, parsed.value, { prune: args.flags.has('--prune') });
    return { counts, missing: await missingGroups(pool, tenantId, parsed.value) };
  });
  console.log(formatCounts(counts));
  // Allowed (a routing may name a group before it is created), but worth saying at once.
  for (const [group, events] of missing)
    console.log(`note: no group "${group}" yet (routed by ${events.join(', ')}); herald doctor lists them`);
}

/** Groups the file routes to that the tenant does not have, each with the events naming it. */
async function missingGroups(
  pool: Pool,
  tenantId: string,
  file: RoutingFile,
): Promise<Map<string, string[]>> {
  const byGroup = new Map<string, string[]>();
  for (const [event, routing] of Object.entries(file.events))
    for (const group of routing.groups) byGroup.set(group, [...(byGroup.get(group) ?? []), event]);
  const known = await resolveGroupRefs(pool, tenantId, [...byGroup.keys()]);
  return new Map([...byGroup].filter(([group]) => !known.has(group)));
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new CliError(`cannot read ${file}: ${reason}`, 2);
  }
}

function invalidFile(file: string, problems: RoutingProblem[]): CliError {
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  return new CliError(
    [`${file}: ${problems.length} problem(s), nothing was imported`, ...lines].join('\n'),
    2,
  );
}

const formatCounts = (c: RoutingImportCounts) =>
  `routing: ${c.set} set, ${c.unchanged} unchanged, ${c.removed} removed`;

async function listCommand(pool: Pool, tenantId: string, json: boolean): Promise<void> {
  const routings = await listEventRoutings(pool, tenantId);
  if (json) return printJson(routings);
  if (routings.length === 0)
    return console.log(`no routing yet; set some with: herald routing import <file> --tenant ${tenantId}`);
  console.log(
    formatTable(
      ['EVENT', 'GROUPS', 'RECIPIENTS'],
      routings.map((r) => [r.event, r.groups.join(', ') || '-', r.recipients.join(', ') || '-']),
    ),
  );
}
