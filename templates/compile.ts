import { Liquid, type Template } from 'liquidjs';
import mjml2html from 'mjml';
import { DEFAULT_BRAND_COLOR } from '../common/settings/brand';
import { linkUrlProblem } from '../common/url-safety';
import type { CardSource, VariantSources } from '../db/queries/tenant-templates';
import { FORMAT, registerFormatFilters } from './filters';
import { RESERVED_NAMES, type TemplateManifest } from './manifest';

/**
 * Turning template sources into parsed Liquid: the MJML layout with an event's content section is
 * compiled to HTML once here (MJML is slow), so a render is only a Liquid render per recipient. For a
 * tenant's sources the same step checks them whole (Liquid syntax, MJML, declared variables, a render
 * of the sample) and reports each problem with its variant and line.
 */

export const CONTENT_MARKER = '<!-- herald:content -->';

/**
 * The layout writes the brand colour as the default one; the compiled HTML gets `{{ brand.color }}`
 * in its place (a Liquid value in an MJML colour attribute would not pass MJML's validation). Content
 * sections that use the colour for their links follow the brand too.
 */
const BRAND_COLOR_IN_LAYOUT = new RegExp(DEFAULT_BRAND_COLOR, 'gi');

// Output is HTML-escaped by default; undefined variables are errors, except in `if` guards.
export const htmlEngine = new Liquid({
  strictVariables: true,
  strictFilters: true,
  lenientIf: true,
  outputEscape: 'escape',
});
export const textEngine = new Liquid({ strictVariables: true, strictFilters: true, lenientIf: true });
registerFormatFilters(htmlEngine);
registerFormatFilters(textEngine);

/** The variants of an event, in the names the API uses. */
export const VARIANTS = ['subject', 'mjml', 'text', 'sms', 'push', 'inapp'] as const;
export type VariantName = (typeof VARIANTS)[number];

export interface CompiledCard {
  title: Template[];
  body: Template[];
  url: Template[] | null;
}

/** One locale's compiled variants of an event; null where this layer has none (a lower one is used). */
export interface CompiledLayer {
  subject: Template[] | null;
  /** The whole email's HTML: the layout with the content section, compiled by MJML. */
  mjml: Template[] | null;
  /** The text part with the layout's text footer. */
  text: Template[] | null;
  sms: Template[] | null;
  push: CompiledCard | null;
  inapp: CompiledCard | null;
}

/** The shared layout: its MJML, its text footer, and its fixed words per locale. */
export interface Layout {
  mjml: string;
  textFooter: string;
  /** locale → key → text; `en` is the default locale's. */
  strings: Record<string, Record<string, string>>;
}

export interface SourceProblem {
  /** `variants.subject`, `variants.push.title`… */
  path: string;
  /** Starts with `line N:` when the problem has a line. */
  message: string;
}

export interface CheckOptions {
  manifest: TemplateManifest;
  /** For the sample render's card links (HERALD_ALLOW_LOOPBACK_URLS). */
  allowLoopbackUrls: boolean;
}

/** Fields of the objects every template sees; other fields of them are typos. */
const RESERVED_FIELDS: Record<string, string[] | null> = {
  recipient: ['name', 'email', 'externalId', 'locale', 'timezone'],
  brand: ['name', 'color', 'logoUrl', 'footer', 'address'],
  notification: ['id', 'event', 'priority'],
  ackUrl: null,
  unsubscribeUrl: null,
};

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A layout string for a locale, falling back fr-CA → fr → en; `{brand}` becomes the brand's name. */
function layoutString(layout: Layout, locale: string, key: string, html: boolean): string {
  const parts = locale ? locale.split('-') : [];
  for (let n = parts.length; n >= 0; n--) {
    const value = layout.strings[n === 0 ? 'en' : parts.slice(0, n).join('-')]?.[key];
    if (value !== undefined)
      return (html ? escapeHtml(value) : value).replace(/\{brand\}/g, '{{ brand.name }}');
  }
  throw new Error(`templates/_layout/strings.yaml has no ${key} (en)`);
}

const withStrings = (source: string, layout: Layout, locale: string, html: boolean): string =>
  source.replace(/\[\[(\w+)\]\]/g, (_, key: string) => layoutString(layout, locale, key, html));

/** "undefined filter: x, line:2, col:3" → line 2 and the message without the position. */
function liquidProblem(error: unknown, path: string, lineOffset = 0): SourceProblem {
  const err = error as { message?: string; token?: { getPosition?: () => [number, number] } };
  const position = err.token?.getPosition?.();
  const message = String(err.message ?? error)
    .replace(/, line:\d+, col:\d+[\s\S]*$/, '')
    .replace(/\n[\s\S]*$/, '');
  if (!position) return { path, message };
  const line = position[0] - lineOffset;
  return { path, message: line >= 1 ? `line ${line}: ${message}` : message };
}

/** A line offset that drops the line: positions in generated sources mean nothing to the tenant. */
const NO_LINE = Number.MAX_SAFE_INTEGER;

const lineAt = (source: string, index: number) => source.slice(0, index).split('\n').length;

/** Each variable a template reads that neither the manifest declares nor every template is given. */
function variableProblems(template: Template[], engine: Liquid, path: string, manifest: TemplateManifest) {
  const problems: SourceProblem[] = [];
  const { globals } = engine.analyzeSync(template);
  for (const [root, uses] of Object.entries(globals)) {
    for (const use of uses) {
      const where = use.location ? `line ${use.location.row}: ` : '';
      if (root in manifest.variables) continue;
      if (!(RESERVED_NAMES as readonly string[]).includes(root)) {
        const declared = Object.keys(manifest.variables).join(', ') || 'none';
        problems.push({
          path,
          message: `${where}variable ${root} is not declared in the manifest of ${manifest.event} (declared: ${declared}; always there: ${RESERVED_NAMES.join(', ')})`,
        });
        break;
      }
      const field = use.segments[1];
      const fields = RESERVED_FIELDS[root];
      if (fields && typeof field === 'string' && !fields.includes(field)) {
        problems.push({ path, message: `${where}${root} has no field ${field} (${fields.join(', ')})` });
        break;
      }
    }
  }
  return problems;
}

/**
 * MJML's parser closes unclosed elements silently (and moves what follows into them): a tenant's
 * section is checked for balanced mj-* tags first, so the mistake is reported with its line.
 */
function mjmlTagProblem(source: string): string | null {
  const open: { name: string; line: number }[] = [];
  const tag = /<(\/?)(mj-[a-z-]+)\b(?:[^>"']|"[^"]*"|'[^']*')*?(\/?)>/gi;
  for (const match of source.matchAll(tag)) {
    const [, closing, name, selfClosing] = match;
    const line = lineAt(source, match.index);
    if (selfClosing) continue;
    if (!closing) {
      open.push({ name: name!.toLowerCase(), line });
      continue;
    }
    const top = open.pop();
    if (!top) return `line ${line}: </${name}> closes nothing`;
    if (top.name !== name!.toLowerCase())
      return `line ${line}: </${name}> closes <${top.name}> opened on line ${top.line}`;
  }
  const unclosed = open.pop();
  return unclosed ? `line ${unclosed.line}: <${unclosed.name}> is not closed` : null;
}

interface MjmlError {
  line?: number;
  message?: string;
  formattedMessage?: string;
}

async function compileMjml(document: string): Promise<{ html: string; errors: MjmlError[] }> {
  try {
    const result = await mjml2html(document, { validationLevel: 'strict', ignoreIncludes: true });
    return { html: result.html, errors: result.errors ?? [] };
  } catch (error) {
    // Strict validation throws a ValidationError carrying the list.
    const errors = (error as { errors?: MjmlError[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) return { html: '', errors };
    return { html: '', errors: [{ message: error instanceof Error ? error.message : String(error) }] };
  }
}

/**
 * Compiles one layer from its sources (only the variants given). With `check`, a tenant's sources
 * are also checked as a whole; the answer is every problem found, or the layer.
 */
export async function compileLayer(
  sources: VariantSources,
  layout: Layout,
  locale: string,
  check?: CheckOptions,
): Promise<{ ok: true; layer: CompiledLayer } | { ok: false; problems: SourceProblem[] }> {
  const problems: SourceProblem[] = [];
  /** `whole`: the source is the tenant's as written (its lines and variables are checked). */
  const parse = (engine: Liquid, source: string, path: string, whole = true): Template[] | null => {
    try {
      const template = engine.parse(source);
      if (check && whole) problems.push(...variableProblems(template, engine, path, check.manifest));
      return template;
    } catch (error) {
      problems.push(liquidProblem(error, path, whole ? 0 : NO_LINE));
      return null;
    }
  };
  const parseCard = (card: CardSource | undefined, name: 'push' | 'inapp'): CompiledCard | null => {
    if (!card) return null;
    const title = parse(textEngine, card.title, `variants.${name}.title`);
    const body = parse(textEngine, card.body, `variants.${name}.body`);
    const url = card.url ? parse(textEngine, card.url, `variants.${name}.url`) : null;
    return title && body ? { title, body, url } : null;
  };

  const layer: CompiledLayer = {
    subject:
      sources.subject !== undefined ? parse(textEngine, sources.subject.trim(), 'variants.subject') : null,
    mjml:
      sources.mjml !== undefined
        ? await compileEmailHtml(sources.mjml, layout, locale, problems, check)
        : null,
    text: null,
    sms: sources.sms !== undefined ? parse(textEngine, sources.sms.trim(), 'variants.sms') : null,
    push: parseCard(sources.push, 'push'),
    inapp: parseCard(sources.inapp, 'inapp'),
  };
  if (sources.text !== undefined) {
    // Checked alone for its lines and variables, then parsed with the footer appended.
    const own = check ? parse(textEngine, sources.text, 'variants.text') : true;
    const footer = withStrings(layout.textFooter, layout, locale, false);
    const text = sources.text.trimEnd() + (footer ? `\n\n--\n${footer}` : '');
    if (own) layer.text = parse(textEngine, text, 'variants.text', !check);
  }
  if (check && problems.length === 0) problems.push(...sampleProblems(layer, check));
  return problems.length > 0 ? { ok: false, problems: dedupe(problems) } : { ok: true, layer };
}

const dedupe = (problems: SourceProblem[]) => [
  ...new Map(problems.map((p) => [`${p.path}\u0000${p.message}`, p])).values(),
];

async function compileEmailHtml(
  content: string,
  layout: Layout,
  locale: string,
  problems: SourceProblem[],
  check: CheckOptions | undefined,
): Promise<Template[] | null> {
  const path = 'variants.mjml';
  if (check) {
    // The section's own Liquid first, so its lines are the tenant's lines.
    try {
      problems.push(...variableProblems(htmlEngine.parse(content), htmlEngine, path, check.manifest));
    } catch (error) {
      problems.push(liquidProblem(error, path));
      return null;
    }
    // Includes read files on the server: never from a tenant (MJML also ignores them, see compileMjml).
    const include = /<mj-include\b/i.exec(content);
    if (include) {
      problems.push({ path, message: `line ${lineAt(content, include.index)}: mj-include is not allowed` });
      return null;
    }
    const tags = mjmlTagProblem(content);
    if (tags) {
      problems.push({ path, message: tags });
      return null;
    }
  }
  const document = withStrings(layout.mjml, layout, locale, true);
  const markerLine = lineAt(document, document.indexOf(CONTENT_MARKER));
  const contentLines = content.split('\n').length;
  const compiled = await compileMjml(document.replace(CONTENT_MARKER, () => content));
  if (compiled.errors.length > 0) {
    for (const error of compiled.errors) {
      const line = error.line === undefined ? undefined : error.line - markerLine + 1;
      const message = error.message ?? error.formattedMessage ?? 'invalid MJML';
      problems.push({
        path,
        message:
          line !== undefined && line >= 1 && line <= contentLines ? `line ${line}: ${message}` : message,
      });
    }
    return null;
  }
  if (check) {
    // MJML drops text between its elements: Liquid there would silently vanish from the email.
    for (const match of content.matchAll(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g)) {
      if (!compiled.html.includes(match[0])) {
        problems.push({
          path,
          message: `line ${lineAt(content, match.index)}: ${match[0]} is between MJML elements, where MJML drops it: put it inside an mj-text (or an attribute)`,
        });
        return null;
      }
    }
  }
  const html = compiled.html.replace(BRAND_COLOR_IN_LAYOUT, '{{ brand.color }}');
  try {
    return htmlEngine.parse(html);
  } catch (error) {
    problems.push(liquidProblem(error, path, NO_LINE));
    return null;
  }
}

/** The scope a tenant's sources are tried with: the manifest's sample, a sample person and brand. */
const sampleScope = (manifest: TemplateManifest): object => ({
  ...manifest.sample,
  recipient: {
    name: 'Sample Recipient',
    email: 'sample@example.com',
    externalId: 'sample',
    locale: null,
    timezone: null,
  },
  brand: { name: 'Sample', color: DEFAULT_BRAND_COLOR, logoUrl: null, footer: null, address: null },
  notification: {
    id: '00000000-0000-0000-0000-000000000000',
    event: manifest.event,
    priority: manifest.defaultPriority,
  },
  ackUrl: undefined,
  unsubscribeUrl: undefined,
  [FORMAT]: { locale: 'en', timeZone: 'UTC' },
});

/** Renders each variant with the sample: what would fail every delivery fails the PUT instead. */
function sampleProblems(layer: CompiledLayer, check: CheckOptions): SourceProblem[] {
  const scope = sampleScope(check.manifest);
  const problems: SourceProblem[] = [];
  const attempt = (engine: Liquid, template: Template[] | null, path: string, lineOffset = 0): string => {
    if (!template) return '';
    try {
      return String(engine.renderSync(template, scope));
    } catch (error) {
      const problem = liquidProblem(error, path, lineOffset);
      problems.push({ path, message: `${problem.message} (rendering the manifest's sample)` });
      return '';
    }
  };
  attempt(textEngine, layer.subject, 'variants.subject');
  // The compiled HTML's lines are MJML's output, not the tenant's: no line for those.
  attempt(htmlEngine, layer.mjml, 'variants.mjml', NO_LINE);
  attempt(textEngine, layer.text, 'variants.text');
  attempt(textEngine, layer.sms, 'variants.sms');
  for (const name of ['push', 'inapp'] as const) {
    const card = layer[name];
    if (!card) continue;
    attempt(textEngine, card.title, `variants.${name}.title`);
    attempt(textEngine, card.body, `variants.${name}.body`);
    const url = attempt(textEngine, card.url, `variants.${name}.url`).trim();
    const problem = url ? linkUrlProblem(url, { allowLoopback: check.allowLoopbackUrls }) : null;
    if (problem) problems.push({ path: `variants.${name}.url`, message: `renders ${url}, which ${problem}` });
  }
  return problems;
}
