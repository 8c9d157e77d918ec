import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Liquid, type Template } from 'liquidjs';
import mjml2html from 'mjml';
import YAML from 'yaml';
import { z } from 'zod';
import { CHANNELS, PRIORITIES } from '../common/types';

export const TEMPLATES_DIR = __dirname;
const CONTENT_MARKER = '<!-- herald:content -->';

const variableSchema = z.object({
  type: z.enum(['string', 'number', 'boolean']),
  required: z.boolean().default(false),
  description: z.string().optional(),
});

const manifestSchema = z.object({
  event: z.string().min(1),
  category: z.string().min(1),
  description: z.string().min(1),
  defaultChannels: z.array(z.enum(CHANNELS)).min(1),
  defaultPriority: z.enum(PRIORITIES),
  variables: z.record(z.string(), variableSchema),
  sample: z.record(z.string(), z.unknown()),
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
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

interface CompiledTemplate {
  manifest: TemplateManifest;
  subject: Template[];
  html: Template[];
  text: Template[];
}

export interface VariableProblem {
  variable: string;
  message: string;
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

  /** Missing required variables and values of the wrong type, one problem per variable. */
  checkData(event: string, data: Record<string, unknown>): VariableProblem[] {
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
      }
    }
    return problems;
  }

  renderEmail(event: string, context: RenderContext): RenderedEmail {
    const template = this.templates.get(event);
    if (!template) throw new TemplateRenderError(event, 'no such template');
    const scope = {
      ...context.data,
      recipient: context.recipient,
      brand: context.brand,
      notification: context.notification,
      unsubscribeUrl: context.unsubscribeUrl,
    };
    try {
      return {
        // A subject is one header line: collapse whitespace so no data can inject a header.
        subject: String(textEngine.renderSync(template.subject, scope)).replace(/\s+/g, ' ').trim(),
        html: String(htmlEngine.renderSync(template.html, scope)),
        text: String(textEngine.renderSync(template.text, scope)).trim() + '\n',
      };
    } catch (error) {
      throw new TemplateRenderError(event, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
  }
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
  };
}
