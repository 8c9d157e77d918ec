import { z } from '@hono/zod-openapi';
import { isLocaleTag } from '../../common/locale';
import { PreviewRequestSchema, TemplateSchema } from '../schemas';

/** A BCP 47 tag in a body or query; `default` (the catalogue's own language) is written by leaving it out. */
export const localeField = z
  .string()
  .max(35)
  .refine(isLocaleTag, 'must be a BCP 47 language tag such as fr, fr-CA or pt-BR')
  .openapi({ example: 'fr' });

const liquid = (max: number, description: string) => z.string().min(1).max(max).openapi({ description });

const CardSourceSchema = z
  .object({
    title: liquid(1_000, 'Liquid'),
    body: liquid(4_000, 'Liquid'),
    url: z
      .string()
      .max(2_000)
      .optional()
      .openapi({ description: 'Liquid; must render an https URL or nothing' }),
  })
  .strict();

export const VariantSourcesSchema = z
  .object({
    subject: liquid(1_000, 'Liquid; one line'),
    mjml: liquid(
      100_000,
      'The content section (mj-section elements, like templates/<event>/email.mjml), inside the shared layout',
    ),
    text: liquid(50_000, 'Liquid; the layout adds its text footer'),
    sms: liquid(2_000, 'Liquid; also WhatsApp'),
    push: CardSourceSchema,
    inapp: CardSourceSchema,
  })
  .partial()
  .strict()
  .openapi('TemplateVariants', {
    example: {
      subject: '[#{{ ticketId }}] {{ title }} is yours',
      mjml: '<mj-section><mj-column><mj-text>Hi {{ recipient.name }}, ticket {{ ticketId }} is yours.</mj-text></mj-column></mj-section>',
      text: 'Hi {{ recipient.name }}, ticket {{ ticketId }} is yours.',
    },
  });

export const TemplateOverrideSchema = z
  .object({
    locale: localeField
      .optional()
      .openapi({ description: 'the locale these variants are for; absent: the default' }),
    manifest: z.record(z.string(), z.unknown()).optional().openapi({
      description:
        'Only for an event of your own (not in the built-in catalogue): the same schema as templates/<event>/manifest.yaml',
    }),
    variants: VariantSourcesSchema,
  })
  .strict()
  .openapi('TemplateOverride');

const ORIGINS = ['tenant', 'built-in', 'inherited', 'none'] as const;

export const TemplateListItemSchema = TemplateSchema.extend({
  builtIn: z.boolean().openapi({ description: "false: an event of the tenant's own" }),
}).openapi('TemplateListItem');

export const TemplateDetailSchema = TemplateListItemSchema.extend({
  locales: z
    .array(
      z.object({
        locale: z.string().openapi({ example: 'fr' }),
        variants: z.record(z.string(), z.enum(ORIGINS)).openapi({
          description:
            'per variant (subject, mjml, text, sms, push, inapp): the tenant’s, built in, inherited from a less specific locale, or none',
          example: { subject: 'tenant', mjml: 'built-in', text: 'built-in', sms: 'inherited' },
        }),
      }),
    )
    .openapi({ description: 'the locales the event has variants in, `default` first' }),
  overrides: z
    .array(z.object({ locale: z.string(), variants: VariantSourcesSchema, updatedAt: z.string() }))
    .openapi({ description: "the tenant's own sources, per locale" }),
}).openapi('TemplateDetail');

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export const TenantPreviewRequestSchema = PreviewRequestSchema.extend({
  locale: localeField
    .optional()
    .openapi({ description: "the recipient's locale; absent: the tenant default" }),
  timezone: z
    .string()
    .max(64)
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris')
    .optional()
    .openapi({ example: 'Europe/Paris', description: "for date_local; absent: the tenant's zone, else UTC" }),
}).openapi('TemplatePreviewRequest');

const CardSchema = z.object({ title: z.string(), body: z.string(), url: z.string().nullable() });

export const TenantPreviewSchema = z
  .object({
    event: z.string(),
    locale: z.string().nullable().openapi({ description: 'the locale asked for (or the tenant default)' }),
    email: z.object({ subject: z.string(), html: z.string(), text: z.string() }),
    sms: z.string().optional(),
    push: CardSchema.optional(),
    inapp: CardSchema.optional(),
  })
  .openapi('TemplatePreview');
