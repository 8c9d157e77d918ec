import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/** Schedules whose id starts with this are Herald's: sync may delete them when no longer declared. */
export const HERALD_SCHEDULE_PREFIX = 'herald-';

export const DEFAULT_SCHEDULES_FILE = path.resolve(__dirname, '..', 'config', 'schedules.yaml');

const EVERY = /^(\d+)(s|m|h|d)$/;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const SpecSchema = z
  .object({
    every: z
      .string()
      .regex(EVERY, 'must look like 30s, 15m, 2h or 1d')
      .refine((v) => Number(EVERY.exec(v)?.[1]) > 0, 'must be more than zero')
      .optional(),
    cron: z
      .string()
      .refine((v) => v.trim().split(/\s+/).length === 5, 'must be a 5-field cron expression')
      .optional(),
    timezone: z.string().refine(isTimeZone, 'is not a known IANA time zone').optional(),
  })
  .strict()
  .refine((s) => (s.every === undefined) !== (s.cron === undefined), {
    message: 'give exactly one of every or cron',
  });

export const DeclaredScheduleSchema = z
  .object({
    id: z
      .string()
      .startsWith(HERALD_SCHEDULE_PREFIX, `must start with ${HERALD_SCHEDULE_PREFIX}`)
      .regex(/^[\w.-]+$/, 'may hold letters, digits, _, . and - only'),
    workflowType: z.string().min(1),
    args: z.array(z.unknown()).default([]),
    spec: SpecSchema,
    paused: z.boolean().default(false),
  })
  .strict();

export const SchedulesFileSchema = z
  .object({ schedules: z.array(DeclaredScheduleSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.schedules.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: ['schedules', i, 'id'], message: `duplicate id ${s.id}` });
      seen.add(s.id);
    });
  });

export type DeclaredSchedule = z.infer<typeof DeclaredScheduleSchema>;
export type ScheduleSpecInput = z.infer<typeof SpecSchema>;

export class InvalidSchedulesFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(`${file}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'InvalidSchedulesFileError';
  }
}

/** Parses the YAML (or JSON) text of a schedules file; throws InvalidSchedulesFileError naming every problem. */
export function parseSchedulesFile(text: string, file = 'schedules.yaml'): DeclaredSchedule[] {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new InvalidSchedulesFileError(file, [{ path: '(file)', message: (error as Error).message }]);
  }
  const result = SchedulesFileSchema.safeParse(raw);
  if (!result.success)
    throw new InvalidSchedulesFileError(
      file,
      result.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || '(root)',
        message: issue.message,
      })),
    );
  return result.data.schedules;
}

export function loadSchedulesFile(file: string = DEFAULT_SCHEDULES_FILE): DeclaredSchedule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidSchedulesFileError(file, [{ path: '(file)', message: (error as Error).message }]);
  }
  return parseSchedulesFile(text, file);
}

/** `every: 15m` → milliseconds. */
export function everyToMs(every: string): number {
  const [, n, unit] = EVERY.exec(every) ?? [];
  const factor = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 's' | 'm' | 'h' | 'd'];
  return Number(n) * factor;
}

/** One line for listings: `every 15m`, `cron 0 9 * * * (Africa/Harare)`. */
export function describeSpec(spec: ScheduleSpecInput): string {
  const base = spec.every ? `every ${spec.every}` : `cron ${spec.cron}`;
  return spec.timezone ? `${base} (${spec.timezone})` : base;
}
