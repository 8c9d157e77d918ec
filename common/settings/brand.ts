import { z } from 'zod';
import { canonicalLocale } from '../locale';
import { linkUrlProblem } from '../url-safety';

/**
 * A tenant's brand (tenant_settings kind `brand`): how its messages present themselves. Every value
 * is data rendered into messages: the templates escape it, and `color`, which goes into style
 * attributes, must be exactly `#rrggbb`.
 */

/** The layout's colour when a tenant sets none (the header, the buttons, the links). */
export const DEFAULT_BRAND_COLOR = '#1f4fd1';

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), 'must not contain control characters');

export const brandSettingsSchema = z
  .object({
    name: text(100).refine((s) => !/[\r\n]/.test(s), 'must be one line'),
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour written #rrggbb, e.g. #1f4fd1')
      .transform((s) => s.toLowerCase())
      .optional(),
    logoUrl: z
      .string()
      .max(2000)
      .superRefine((url, ctx) => {
        // Mail clients fetch the logo: https only, also in development.
        const problem = linkUrlProblem(url, { allowLoopback: false });
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .nullable()
      .optional(),
    footer: text(500).nullable().optional(),
    /** The postal address the footer shows (anti-spam laws ask for one); line breaks are kept. */
    address: text(500).nullable().optional(),
    /**
     * The language of messages to raw addresses, and to recipients without a locale of their own,
     * when the request names none (BCP 47).
     */
    defaultLocale: z
      .string()
      .max(35)
      .refine((tag) => canonicalLocale(tag) !== null, 'must be a BCP 47 language tag such as fr or pt-BR')
      .transform((tag) => canonicalLocale(tag)!)
      .nullable()
      .optional(),
  })
  .strict();

export type BrandSettings = z.infer<typeof brandSettingsSchema>;

/** The brand a message is rendered with: the tenant's, with the operator's defaults for the rest. */
export interface Brand {
  name: string;
  color: string;
  logoUrl: string | null;
  footer: string | null;
  address: string | null;
  defaultLocale: string | null;
}

/** The operator's brand (BRAND_NAME), for tenants that set none. */
export const defaultBrand = (name: string): Brand => ({
  name,
  color: DEFAULT_BRAND_COLOR,
  logoUrl: null,
  footer: null,
  address: null,
  defaultLocale: null,
});

/**
 * The brand from a stored config (tenant_settings.config), defaults filled in. A stored config that
 * no longer parses (a stricter rule since) counts as none rather than breaking every send.
 */
export function resolveBrand(config: Record<string, unknown> | null | undefined, defaultName: string): Brand {
  const base = defaultBrand(defaultName);
  if (!config) return base;
  const parsed = brandSettingsSchema.safeParse(config);
  if (!parsed.success) return base;
  const own = parsed.data;
  return {
    name: own.name,
    color: own.color ?? base.color,
    logoUrl: own.logoUrl ?? null,
    footer: own.footer ?? null,
    address: own.address ?? null,
    defaultLocale: own.defaultLocale ?? null,
  };
}
