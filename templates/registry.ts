import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Liquid, type Template } from 'liquidjs';
import mjml2html from 'mjml';
import YAML from 'yaml';
import { z } from 'zod';
import { dedupeRuleSchema, throttleRuleSchema } from '../common/dedupe-rules';
import { CHANNELS, PRIORITIES, type ChannelName } from '../common/types';
import { linkUrlProblem } from '../common/url-safety';

export const TEMPLATES_DIR = __dirname;
const CONTENT_MARKER = '<!-- herald:content -->';

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

const manifestSchema = z.object({
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

/** What a template sees besides the notification's data. */
export interface RenderContext {
  data: Record<string, unknown>;
  recipient: { name: string | null; email: string | null; externalId: string | null };
  brand: { name: string };
  notification: { id: string; event: string; priority: string };
  unsubscribeUrl?: string;
  /** A signed link that acknowledges the notification (when it can escalate). */
  ackUrl?: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** A short card: web push and the in-app inbox. */
export interface RenderedCard {
  title: string;
  body: string;
  url: string | null;
}

interface CompiledCard {
  title: Template[];
  body: Template[];
  url: Template[] | null;
}

interface CompiledTemplate {
  manifest: TemplateManifest;
  subject: Template[];
  html: Template[];
  text: Template[];
  sms: Template[] | null;
  push: CompiledCard | null;
  inapp: CompiledCard | null;
}

export interface VariableProblem {
  variable: string;
  message: string;
}

/** How checkData judges `format: url` variables. */
export interface DataCheckOptions {
  /** Development only (HERALD_ALLOW_LOOPBACK_URLS): http links to loopback hosts pass too. */
  allowLoopbackUrls?: boolean;
}

/** Thrown when a template cannot be rendered; names the missing or broken variables. */
export class TemplateRenderError extends Error {
  readonly code = 'template_render_failed';
  constructor(
    readonly event: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`template ${event}: ${message}`, options);
    this.name = 'TemplateRenderError';
  }
}

// Output is HTML-escaped by default; undefined variables are errors, except in `if` guards.
const htmlEngine = new Liquid({
  strictVariables: true,
  strictFilters: true,
  lenientIf: true,
  outputEscape: 'escape',
});
const textEngine = new Liquid({ strictVariables: true, strictFilters: true, lenientIf: true });

/**
 * The templates of every event, compiled once: the MJML layout with the event's sections is turned
 * into HTML at load time (MJML is slow), and the Liquid templates are parsed once; a render is then
 * only a Liquid render per recipient.
 */
export class TemplateRegistry {
  private constructor(private readonly templates: Map<string, CompiledTemplate>) {}

  static async load(dir: string = TEMPLATES_DIR): Promise<TemplateRegistry> {
    const layout = await readFile(path.join(dir, '_layout', 'layout.mjml'), 'utf8');
    const textFooterPath = path.join(dir, '_layout', 'text-footer.liquid');
    const textFooter = existsSync(textFooterPath) ? await readFile(textFooterPath, 'utf8') : '';
    if (!layout.includes(CONTENT_MARKER)) throw new Error(`layout has no ${CONTENT_MARKER} marker`);
    const entries = await readdir(dir, { withFileTypes: true });
    const templates = new Map<string, CompiledTemplate>();
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
      const folder = path.join(dir, entry.name);
      if (!existsSync(path.join(folder, 'manifest.yaml'))) continue;
      templates.set(entry.name, await compileTemplate(folder, entry.name, layout, textFooter));
    }
    return new TemplateRegistry(templates);
  }

  events(): string[] {
    return [...this.templates.keys()].sort();
  }

  has(event: string): boolean {
    return this.templates.has(event);
  }

  manifest(event: string): TemplateManifest | undefined {
    return this.templates.get(event)?.manifest;
  }

  /**
   * Missing required variables, values of the wrong type and `format: url` values that are not safe
   * links (javascript:, data:, relative…), one problem per variable.
   */
  checkData(event: string, data: Record<string, unknown>, options: DataCheckOptions = {}): VariableProblem[] {
    const manifest = this.manifest(event);
    if (!manifest) return [];
    const problems: VariableProblem[] = [];
    for (const [name, spec] of Object.entries(manifest.variables)) {
      const value = data[name];
      if (value === undefined || value === null) {
        if (spec.required)
          problems.push({ variable: name, message: `required variable is missing (${spec.type})` });
      } else if (typeof value !== spec.type) {
        problems.push({
          variable: name,
          message: `expected ${spec.type}, got ${Array.isArray(value) ? 'array' : typeof value}`,
        });
      } else if (spec.format === 'url') {
        const problem = linkUrlProblem(value as string, {
          allowLoopback: options.allowLoopbackUrls === true,
        });
        if (problem) problems.push({ variable: name, message: problem });
      }
    }
    return problems;
  }

  /** Whether the event has a variant for the channel (webhooks send the data itself, no template). */
  supports(event: string, channel: ChannelName): boolean {
    const template = this.templates.get(event);
    if (!template) return false;
    const variants = {
      email: true,
      sms: template.sms !== null,
      whatsapp: template.sms !== null,
      push: template.push !== null,
      inapp: template.inapp !== null,
      webhook: true,
    } satisfies Record<ChannelName, boolean>;
    return variants[channel];
  }

  renderEmail(event: string, context: RenderContext): RenderedEmail {
    return this.render(event, context, (template, scope) => ({
      // A subject is one header line: collapse whitespace so no data can inject a header.
      subject: oneLine(textEngine.renderSync(template.subject, scope)),
      html: String(htmlEngine.renderSync(template.html, scope)),
      text: String(textEngine.renderSync(template.text, scope)).trim() + '\n',
    }));
  }

  /** The SMS (and WhatsApp) text: plain, one paragraph. */
  renderSms(event: string, context: RenderContext): string {
    return this.render(event, context, (template, scope) => {
      if (!template.sms) throw new Error('no sms variant');
      return oneLine(textEngine.renderSync(template.sms, scope));
    });
  }

  renderPush(event: string, context: RenderContext): RenderedCard {
    return this.render(event, context, (template, scope) => renderCard(template.push, 'push', scope));
  }

  renderInapp(event: string, context: RenderContext): RenderedCard {
    return this.render(event, context, (template, scope) => renderCard(template.inapp, 'inapp', scope));
  }

  private render<T>(
    event: string,
    context: RenderContext,
    fn: (template: CompiledTemplate, scope: object) => T,
  ): T {
    const template = this.templates.get(event);
    if (!template) throw new TemplateRenderError(event, 'no such template');
    const scope = {
      ...context.data,
      recipient: context.recipient,
      brand: context.brand,
      notification: context.notification,
      unsubscribeUrl: context.unsubscribeUrl,
      ackUrl: context.ackUrl,
    };
    try {
      return fn(template, scope);
    } catch (error) {
      throw new TemplateRenderError(event, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
  }
}

const oneLine = (text: unknown): string => String(text).replace(/\s+/g, ' ').trim();

function renderCard(card: CompiledCard | null, name: string, scope: object): RenderedCard {
  if (!card) throw new Error(`no ${name} variant`);
  const url = card.url ? oneLine(textEngine.renderSync(card.url, scope)) : '';
  return {
    title: oneLine(textEngine.renderSync(card.title, scope)),
    body: oneLine(textEngine.renderSync(card.body, scope)),
    url: url || null,
  };
}

const cardSchema = z
  .object({ title: z.string().min(1), body: z.string().min(1), url: z.string().optional() })
  .strict();

async function compileCard(folder: string, event: string, file: string): Promise<CompiledCard | null> {
  const filePath = path.join(folder, file);
  if (!existsSync(filePath)) return null;
  const parsed = cardSchema.safeParse(YAML.parse(await readFile(filePath, 'utf8')));
  if (!parsed.success) throw new Error(`templates/${event}/${file}: ${z.prettifyError(parsed.error)}`);
  return {
    title: textEngine.parse(parsed.data.title),
    body: textEngine.parse(parsed.data.body),
    url: parsed.data.url ? textEngine.parse(parsed.data.url) : null,
  };
}

async function compileTemplate(
  folder: string,
  event: string,
  layout: string,
  textFooter: string,
): Promise<CompiledTemplate> {
  const read = (name: string) => readFile(path.join(folder, name), 'utf8');
  const parsed = manifestSchema.safeParse(YAML.parse(await read('manifest.yaml')));
  if (!parsed.success) throw new Error(`templates/${event}/manifest.yaml: ${z.prettifyError(parsed.error)}`);
  if (parsed.data.event !== event)
    throw new Error(`templates/${event}/manifest.yaml names event ${parsed.data.event}`);
  for (const [name, spec] of Object.entries(parsed.data.variables)) {
    if (LINK_NAME.test(name) && spec.format !== 'url')
      throw new Error(
        `templates/${event}/manifest.yaml: variable ${name} looks like a link: give it format: url`,
      );
  }
  const mjmlSource = layout.replace(CONTENT_MARKER, await read('email.mjml'));
  const compiled = await mjml2html(mjmlSource, { validationLevel: 'strict', filePath: folder });
  if (compiled.errors?.length) {
    throw new Error(
      `templates/${event}/email.mjml: ${compiled.errors.map((e) => e.formattedMessage).join('; ')}`,
    );
  }
  const text = (await read('text.liquid')).trimEnd() + (textFooter ? `\n\n--\n${textFooter}` : '');
  return {
    manifest: parsed.data,
    subject: textEngine.parse((await read('subject.liquid')).trim()),
    html: htmlEngine.parse(compiled.html),
    text: textEngine.parse(text),
    sms: existsSync(path.join(folder, 'sms.liquid'))
      ? textEngine.parse((await read('sms.liquid')).trim())
      : null,
    push: await compileCard(folder, event, 'push.yaml'),
    inapp: await compileCard(folder, event, 'inapp.yaml'),
  };
}
