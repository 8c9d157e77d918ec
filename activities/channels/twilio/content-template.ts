import { Liquid, type Template } from 'liquidjs';
import { canonicalLocale } from '../../../common/locale';
import { DEFAULT_FORMAT, FORMAT, registerFormatFilters } from '../../../templates/filters';
import { TemplateRenderError, type RenderContext, type TemplateManifest } from '../../../templates/registry';

/** The manifest's `whatsapp` block: an approved content template and Liquid for its placeholders. */
export type WhatsAppContentTemplate = NonNullable<TemplateManifest['whatsapp']>;

/** A WhatsApp message sent as an approved template instead of free text. */
export interface WhatsAppContent {
  contentSid: string;
  /** JSON of {"1": "…", "2": "…"}, as Twilio's `ContentVariables` form field takes it. */
  contentVariables: string;
}

// As the SMS text is rendered (templates/registry.ts): plain text, undefined variables are errors,
// and the same locale-aware filters (date_local, number_local).
const engine = new Liquid({ strictVariables: true, strictFilters: true, lenientIf: true });
registerFormatFilters(engine);

/** Parsed placeholder sources; manifests are few, but tenants may add their own, so it is bounded. */
const parsed = new Map<string, Template[]>();
const MAX_PARSED = 1000;

function parse(source: string): Template[] {
  let templates = parsed.get(source);
  if (!templates) {
    if (parsed.size >= MAX_PARSED) parsed.clear();
    templates = engine.parse(source);
    parsed.set(source, templates);
  }
  return templates;
}

/**
 * Renders a content template's placeholders over the same scope as the event's other variants. An
 * empty value is an error here rather than at Twilio: WhatsApp refuses empty template parameters.
 */
export function renderWhatsAppContent(
  event: string,
  template: WhatsAppContentTemplate,
  context: RenderContext,
): WhatsAppContent {
  // The scope of the event's other variants (templates/registry.ts render), locale and zone included.
  const locale = context.recipient.locale ?? null;
  const timezone = context.recipient.timezone ?? null;
  const scope = {
    ...context.data,
    recipient: { ...context.recipient, locale, timezone },
    brand: context.brand,
    notification: context.notification,
    unsubscribeUrl: context.unsubscribeUrl,
    ackUrl: context.ackUrl,
    [FORMAT]: {
      locale: (locale && canonicalLocale(locale)) || DEFAULT_FORMAT.locale,
      timeZone: timezone || DEFAULT_FORMAT.timeZone,
    },
  };
  const variables: Record<string, string> = {};
  for (const [placeholder, source] of Object.entries(template.variables)) {
    let value: string;
    try {
      value = String(engine.renderSync(parse(source), scope))
        .replace(/\s+/g, ' ')
        .trim();
    } catch (error) {
      throw new TemplateRenderError(
        event,
        `whatsapp variable ${placeholder}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (value === '') throw new TemplateRenderError(event, `whatsapp variable ${placeholder} rendered empty`);
    variables[placeholder] = value;
  }
  return { contentSid: template.contentSid, contentVariables: JSON.stringify(variables) };
}
