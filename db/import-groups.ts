import { isDeepStrictEqual } from 'node:util';
import { parseDocument, type YAMLError } from 'yaml';
import { z } from 'zod';
import type { Pool } from 'pg';
// Only zod schemas: reusing them keeps the file's field rules identical to the API's.
import { GroupInputSchema, RecipientInputSchema } from '../api/schemas';
import { withTransaction } from './pool';
import {
  addGroupMember,
  listGroupMembers,
  listGroups,
  removeGroupMember,
  upsertGroup,
  type Group,
} from './queries/groups';
import {
  findExistingRecipientIds,
  getRecipient,
  upsertRecipient,
  type Queryable,
  type Recipient,
  type RecipientInput,
} from './queries/recipients';

/**
 * A groups file: people to create or update, then groups and their members by externalId.
 * Fields a recipient entry leaves out keep their stored value; `null` clears one.
 */
const externalId = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !/[\r\n]/.test(s), 'must not contain line breaks');

const groupKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, . _ -');

const RecipientEntrySchema = RecipientInputSchema.extend({ externalId });
const GroupEntrySchema = GroupInputSchema.extend({ key: groupKey, members: z.array(externalId).default([]) });

const GroupsFileSchema = z
  .object({
    recipients: z.array(RecipientEntrySchema).default([]),
    groups: z.array(GroupEntrySchema),
  })
  .strict();

export type GroupsFile = z.infer<typeof GroupsFileSchema>;
type RecipientEntry = GroupsFile['recipients'][number];
type GroupEntry = GroupsFile['groups'][number];

/** One thing wrong with a groups file; `path` points into it, e.g. `groups[1].members[0]`. */
export interface Problem {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; value: GroupsFile } | { ok: false; problems: Problem[] };

export interface ImportCounts {
  groups: { created: number; updated: number };
  recipients: { created: number; updated: number };
  members: { added: number; removed: number };
}

/** The file is well formed but contradicts itself or the database; nothing was written. */
export class InvalidGroupsFileError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the groups file has ${problems.length} problem(s)`);
    this.name = 'InvalidGroupsFileError';
  }
}

/** Parses YAML (or JSON, by extension) and checks its shape; `fileName` names syntax errors. */
export function parseGroupsFile(text: string, fileName: string): ParseResult {
  const document = readDocument(text, fileName);
  if (!document.ok) return document;
  const parsed = GroupsFileSchema.safeParse(document.value, { error: friendlierMessage });
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problems: parsed.error.issues.flatMap((issue) => issueProblems(issue, fileName)) };
}

/** Two cases zod words for programmers: a missing field, and YAML reading `007` or `2024` as a number. */
function friendlierMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.input === undefined) return 'is required';
  if (issue.code === 'invalid_type' && issue.expected === 'string' && typeof issue.input === 'number') {
    return 'must be a string; quote values that look like numbers';
  }
  return undefined;
}

function readDocument(
  text: string,
  fileName: string,
): { ok: true; value: unknown } | { ok: false; problems: Problem[] } {
  if (fileName.toLowerCase().endsWith('.json')) {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      // V8 quotes the offending text, line breaks included; keep the problem on one line.
      return {
        ok: false,
        problems: [{ path: fileName, message: (error as Error).message.replace(/\s*\n\s*/g, ' ') }],
      };
    }
  }
  const document = parseDocument(text);
  if (document.errors.length > 0)
    return { ok: false, problems: document.errors.map((e) => yamlProblem(e, fileName)) };
  return { ok: true, value: document.toJS() };
}

function yamlProblem(error: YAMLError, fileName: string): Problem {
  const at = error.linePos?.[0];
  // The yaml message repeats the position and quotes the source on later lines; keep the sentence.
  const message = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
  return { path: at ? `${fileName}:${at.line}:${at.col}` : fileName, message };
}

function issueProblems(issue: z.core.$ZodIssue, fileName: string): Problem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
  }
  return [{ path: formatPath(issue.path) || fileName, message: issue.message }];
}

/** `['groups', 1, 'members', 0]` → `groups[1].members[0]`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

/**
 * What a well-formed file gets wrong: repeated recipients, group keys, names or members; members
 * that are neither stored nor listed under `recipients`; names that belong to another stored group.
 */
export async function findImportProblems(
  db: Queryable,
  tenantId: string,
  file: GroupsFile,
): Promise<Problem[]> {
  const storedGroups = await listGroups(db, tenantId);
  const knownIds = await knownRecipientIds(db, tenantId, file);
  const groupProblems = [
    ...repeats(
      file.groups,
      (g) => g.key,
      (i) => `groups[${i}].key`,
      'group key',
    ),
    ...repeats(
      file.groups,
      (g) => g.name,
      (i) => `groups[${i}].name`,
      'group name',
    ),
    ...file.groups.flatMap((group, i) => [
      ...nameConflicts(group, `groups[${i}].name`, storedGroups),
      ...repeats(
        group.members,
        (id) => id,
        (j) => `groups[${i}].members[${j}]`,
        'member',
      ),
      ...unknownMembers(group, (j) => `groups[${i}].members[${j}]`, knownIds),
    ]),
  ];
  // In file order: recipients come first there.
  return [
    ...repeats(
      file.recipients,
      (r) => r.externalId,
      (i) => `recipients[${i}].externalId`,
      'recipient',
    ),
    ...groupProblems.sort((a, b) => comparePaths(a.path, b.path)),
  ];
}

async function knownRecipientIds(db: Queryable, tenantId: string, file: GroupsFile): Promise<Set<string>> {
  const listed = new Set(file.recipients.map((r) => r.externalId));
  const unlisted = [...new Set(file.groups.flatMap((g) => g.members))].filter((id) => !listed.has(id));
  return new Set([...listed, ...(await findExistingRecipientIds(db, tenantId, unlisted))]);
}

/** One problem per repeated value, naming the entry that used it first. */
function repeats<T>(
  items: readonly T[],
  valueOf: (item: T) => string,
  pathOf: (i: number) => string,
  what: string,
): Problem[] {
  const firstIndex = new Map<string, number>();
  const problems: Problem[] = [];
  items.forEach((item, i) => {
    const value = valueOf(item);
    const first = firstIndex.get(value);
    if (first === undefined) firstIndex.set(value, i);
    else
      problems.push({
        path: pathOf(i),
        message: `${what} "${value}" is repeated (first at ${pathOf(first)})`,
      });
  });
  return problems;
}

function nameConflicts(group: GroupEntry, path: string, storedGroups: Group[]): Problem[] {
  const owner = storedGroups.find((g) => g.name === group.name && g.key !== group.key);
  if (!owner) return [];
  return [{ path, message: `"${group.name}" is already the name of group "${owner.key}" in the database` }];
}

function unknownMembers(group: GroupEntry, pathOf: (j: number) => string, knownIds: Set<string>): Problem[] {
  return group.members.flatMap((id, j) =>
    knownIds.has(id)
      ? []
      : [{ path: pathOf(j), message: `no recipient "${id}" in the database or under recipients` }],
  );
}

/** Orders paths as they appear in the file: `groups[2]` before `groups[10]`. */
function comparePaths(a: string, b: string): number {
  const split = (p: string) => p.split(/[[\].]+/).filter(Boolean);
  const [left, right] = [split(a), split(b)];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const [x, y] = [left[i]!, right[i]!];
    const order = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (order !== 0) return order;
  }
  return left.length - right.length;
}

/**
 * Applies a parsed file in one transaction: recipients, then groups, then memberships. Rows that
 * already match are not written, so a second run changes nothing. With `prune`, members of the
 * file's groups that the file does not list are removed. Throws InvalidGroupsFileError, writing
 * nothing, when findImportProblems finds any.
 */
export async function importGroups(
  pool: Pool,
  tenantId: string,
  file: GroupsFile,
  options: { prune: boolean },
): Promise<ImportCounts> {
  return withTransaction(pool, async (client) => {
    const problems = await findImportProblems(client, tenantId, file);
    if (problems.length > 0) throw new InvalidGroupsFileError(problems);
    const counts: ImportCounts = {
      groups: { created: 0, updated: 0 },
      recipients: { created: 0, updated: 0 },
      members: { added: 0, removed: 0 },
    };
    for (const entry of file.recipients)
      tally(counts.recipients, await applyRecipient(client, tenantId, entry));
    const storedGroups = new Map((await listGroups(client, tenantId)).map((g) => [g.key, g]));
    for (const entry of file.groups) {
      tally(counts.groups, await applyGroup(client, tenantId, entry, storedGroups.get(entry.key)));
      const { added, removed } = await applyMembers(client, tenantId, entry, options.prune);
      counts.members.added += added;
      counts.members.removed += removed;
    }
    return counts;
  });
}

type Change = 'created' | 'updated' | 'unchanged';

function tally(counter: { created: number; updated: number }, change: Change): void {
  if (change !== 'unchanged') counter[change] += 1;
}

const RECIPIENT_FIELDS = [
  'name',
  'email',
  'phone',
  'whatsapp',
  'timezone',
  'locale',
  'quietHours',
  'digest',
  'failover',
] as const;

async function applyRecipient(db: Queryable, tenantId: string, entry: RecipientEntry): Promise<Change> {
  const stored = await getRecipient(db, tenantId, entry.externalId);
  const input = mergeRecipient(entry, stored);
  if (
    stored &&
    RECIPIENT_FIELDS.every((field) => isDeepStrictEqual(input[field] ?? null, stored[field] ?? null))
  ) {
    return 'unchanged';
  }
  await upsertRecipient(db, tenantId, entry.externalId, input);
  return stored ? 'updated' : 'created';
}

/** upsertRecipient replaces every field, so fields the entry leaves out are carried over. */
function mergeRecipient(entry: RecipientEntry, stored: Recipient | null): RecipientInput {
  const pick = <K extends (typeof RECIPIENT_FIELDS)[number]>(field: K) =>
    entry[field] === undefined ? (stored?.[field] ?? null) : entry[field];
  return {
    name: pick('name'),
    email: pick('email'),
    phone: pick('phone'),
    whatsapp: pick('whatsapp'),
    timezone: pick('timezone'),
    locale: pick('locale'),
    quietHours: pick('quietHours'),
    digest: pick('digest'),
    failover: pick('failover'),
  };
}

async function applyGroup(
  db: Queryable,
  tenantId: string,
  entry: GroupEntry,
  stored: Group | undefined,
): Promise<Change> {
  const description = entry.description === undefined ? (stored?.description ?? null) : entry.description;
  if (stored && stored.name === entry.name && stored.description === description) return 'unchanged';
  await upsertGroup(db, tenantId, entry.key, { name: entry.name, description });
  return stored ? 'updated' : 'created';
}

async function applyMembers(
  db: Queryable,
  tenantId: string,
  entry: GroupEntry,
  prune: boolean,
): Promise<{ added: number; removed: number }> {
  const current = new Set((await listGroupMembers(db, tenantId, entry.key)).map((m) => m.externalId));
  const listed = new Set(entry.members);
  let added = 0;
  let removed = 0;
  for (const id of listed) {
    if (!current.has(id) && (await addGroupMember(db, tenantId, entry.key, id))) added += 1;
  }
  for (const id of prune ? current : []) {
    if (!listed.has(id) && (await removeGroupMember(db, tenantId, entry.key, id))) removed += 1;
  }
  return { added, removed };
}
