import { z } from 'zod';
import { dedupeRuleSchema, throttleRuleSchema } from '../common/dedupe-rules';
import { CHANNELS, PRIORITIES } from '../common/types';

const variableSchema = z
  .object({
    type: z.enum(['string', 'number', 'boolean']),
    /** `url`: a link rendered into an href or a card's url, so it must be an https URL (see checkData). */
    format: z.literal('url').optional(),
    required: z.boolean().default(false),
    description: z.string().optional(),
  })
  .refine((v) => v.format === undefined || v.type === 'string', 'format: url needs type: string');

/** Variables named like links must say they are (`format: url`), so no link escapes the check by its name. */
const LINK_NAME = /url|link|href/i;

/** What every template sees besides the notification's data: no variable may be named so. */
export const RESERVED_NAMES = ['recipient', 'brand', 'notification', 'ackUrl', 'unsubscribeUrl'] as const;

export const manifestSchema = z.object({
  event: z.string().min(1),
  category: z.string().min(1),
  description: z.string().min(1),
  defaultChannels: z.array(z.enum(CHANNELS)).min(1),
  defaultPriority: z.enum(PRIORITIES),
  variables: z.record(z.string(), variableSchema),
  sample: z.record(z.string(), z.unknown()),
  /** `false` for mail people must get (password resets, security alerts): no List-Unsubscribe, no opt-out. */
  unsubscribe: z.boolean().default(true),
  /** The event's own dedupe and throttle rules; a request's rules replace them. */
  dedupe: dedupeRuleSchema.optional(),
  throttle: throttleRuleSchema.optional(),
  /**
   * An approved WhatsApp content template (Twilio ContentSid), for messages outside the 24-hour
   * session; `variables` maps its placeholders ("1", "2"…) to Liquid over the data.
   */
  whatsapp: z
    .object({
      contentSid: z.string().regex(/^HX[0-9a-fA-F]{32}$/, 'a Twilio ContentSid (HX + 32 hex digits)'),
      variables: z.record(z.string().regex(/^\w+$/), z.string()).default({}),
    })
    .strict()
    .optional(),
});

export type TemplateManifest = z.infer<typeof manifestSchema>;
export type TemplateVariable = z.infer<typeof variableSchema>;

export interface ManifestIssue {
  /** Inside the manifest, e.g. `variables.url.format`. */
  path: string;
  message: string;
}

const formatPath = (path: PropertyKey[]): string =>
  path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    return acc ? `${acc}.${String(part)}` : String(part);
  }, '');

/** Parses a manifest (manifest.yaml, or the one a tenant sends for an event of its own). */
export function parseManifest(
  raw: unknown,
  event: string,
): { ok: true; manifest: TemplateManifest } | { ok: false; issues: ManifestIssue[] } {
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({
        path: formatPath(i.path as PropertyKey[]) || '(manifest)',
        message: i.message,
      })),
    };
  const issues: ManifestIssue[] = [];
  if (parsed.data.event !== event)
    issues.push({ path: 'event', message: `names event ${parsed.data.event}, not ${event}` });
  for (const [name, spec] of Object.entries(parsed.data.variables)) {
    if (LINK_NAME.test(name) && spec.format !== 'url')
      issues.push({ path: `variables.${name}`, message: 'looks like a link: give it format: url' });
    if ((RESERVED_NAMES as readonly string[]).includes(name))
      issues.push({
        path: `variables.${name}`,
        message: `${name} is reserved (${RESERVED_NAMES.join(', ')})`,
      });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, manifest: parsed.data };
}
