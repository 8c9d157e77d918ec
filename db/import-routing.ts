import { isDeepStrictEqual } from 'node:util';
import type { Pool } from 'pg';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { EventRoutingSchema, type EventRouting } from '../common/event-routing';
import { withTransaction } from './pool';
import { deleteEventRouting, listEventRoutings, putEventRouting } from './queries/event-routing';

/**
 * A routing file: each event's default audience, as `PUT /v1/events/{event}/routing` takes it.
 *
 *     events:
 *       invoice.processed: { groups: [System Admins, Sales Team] }
 */
const RoutingFileSchema = z.object({ events: z.record(z.string(), EventRoutingSchema) }).strict();

export type RoutingFile = z.infer<typeof RoutingFileSchema>;

/** One thing wrong with a routing file; `path` points into it, e.g. `events.invoice.processed.groups[1]`. */
export interface RoutingProblem {
  path: string;
  message: string;
}

export type RoutingParseResult = { ok: true; value: RoutingFile } | { ok: false; problems: RoutingProblem[] };

export interface RoutingImportCounts {
  set: number;
  unchanged: number;
  removed: number;
}

/**
 * Parses YAML (or JSON, by extension) and checks everything the file alone can say: its shape, each
 * entry, and that every event is in the catalogue (`knownEvent`). Every problem is reported, so one
 * run shows all there is to fix.
 */
export function parseRoutingFile(
  text: string,
  fileName: string,
  knownEvent: (event: string) => boolean,
): RoutingParseResult {
  const document = readDocument(text, fileName);
  if (!document.ok) return document;
  const parsed = RoutingFileSchema.safeParse(document.value, {
    error: (issue) => (issue.input === undefined ? 'is required' : undefined),
  });
  if (!parsed.success)
    return { ok: false, problems: parsed.error.issues.flatMap((issue) => issueProblems(issue, fileName)) };
  const unknown = Object.keys(parsed.data.events)
    .filter((event) => !knownEvent(event))
    .map((event) => ({
      path: `events.${event}`,
      message: 'no such event in the catalogue (GET /v1/events lists them)',
    }));
  return unknown.length > 0 ? { ok: false, problems: unknown } : { ok: true, value: parsed.data };
}

function readDocument(
  text: string,
  fileName: string,
): { ok: true; value: unknown } | { ok: false; problems: RoutingProblem[] } {
  if (fileName.toLowerCase().endsWith('.json')) {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return {
        ok: false,
        problems: [{ path: fileName, message: (error as Error).message.replace(/\s*\n\s*/g, ' ') }],
      };
    }
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const at = error.linePos?.[0];
        // The yaml message repeats the position and quotes the source on later lines; keep the sentence.
        const message = (error.message.split('\n')[0] ?? error.message).replace(
          / at line \d+, column \d+:?$/,
          '',
        );
        return { path: at ? `${fileName}:${at.line}:${at.col}` : fileName, message };
      }),
    };
  }
  return { ok: true, value: document.toJS() };
}

function issueProblems(issue: z.core.$ZodIssue, fileName: string): RoutingProblem[] {
  if (issue.code === 'unrecognized_keys')
    return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
  return [{ path: formatPath(issue.path) || fileName, message: issue.message }];
}

/** `['events', 'invoice.processed', 'groups', 1]` → `events.invoice.processed.groups[1]`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

/**
 * Applies a parsed file in one transaction: each listed event gets exactly the file's audience
 * (routings that already match are not written, so a second run changes nothing). With `prune`,
 * routings of events the file does not list are removed.
 */
export async function importRouting(
  pool: Pool,
  tenantId: string,
  file: RoutingFile,
  options: { prune: boolean },
): Promise<RoutingImportCounts> {
  return withTransaction(pool, async (client) => {
    const stored = new Map((await listEventRoutings(client, tenantId)).map((r) => [r.event, r]));
    const counts: RoutingImportCounts = { set: 0, unchanged: 0, removed: 0 };
    for (const [event, routing] of Object.entries(file.events)) {
      const current = stored.get(event);
      if (current && sameAudience(current, routing)) {
        counts.unchanged += 1;
        continue;
      }
      await putEventRouting(client, tenantId, event, routing);
      counts.set += 1;
    }
    for (const event of options.prune ? stored.keys() : []) {
      if (!Object.hasOwn(file.events, event) && (await deleteEventRouting(client, tenantId, event)))
        counts.removed += 1;
    }
    return counts;
  });
}

const sameAudience = (a: EventRouting, b: EventRouting) =>
  isDeepStrictEqual(a.groups, b.groups) && isDeepStrictEqual(a.recipients, b.recipients);
