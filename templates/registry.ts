import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { canonicalLocale, localeChain } from '../common/locale';
import { createLogger } from '../common/logger';
import { DEFAULT_BRAND_COLOR } from '../common/settings/brand';
import type { ChannelName } from '../common/types';
import { linkUrlProblem } from '../common/url-safety';
import type { Queryable } from '../db/queries/recipients';
import {
  loadTenantTemplates,
  tenantTemplatesVersion,
  type TenantTemplateRow,
  type VariantSources,
} from '../db/queries/tenant-templates';
import {
  compileLayer,
  CONTENT_MARKER,
  htmlEngine,
  textEngine,
  VARIANTS,
  type CompiledCard,
  type CompiledLayer,
  type Layout,
  type SourceProblem,
  type VariantName,
} from './compile';
import { DEFAULT_FORMAT, FORMAT } from './filters';
import { Lru } from './lru';
import { parseManifest, type TemplateManifest } from './manifest';

export type { TemplateManifest, TemplateVariable } from './manifest';
export type { SourceProblem, VariantName } from './compile';
export { VARIANTS } from './compile';

/**
 * The template catalogue behind one lookup: the built-in events (templates/<event>/, with locale
 * folders such as templates/ticket.assigned/fr/), and, in a tenant's view (`forTenant`), that
 * tenant's own variants and events on top.
 *
 * Selection, per variant: along the locale chain of the recipient (fr-CA → fr → default), the first
 * locale that has the variant, the tenant's before the built-in one at each locale. So a language
 * wins over a customisation: a tenant that overrides the default (English) subject still has French
 * recipients get the built-in French one until it overrides `fr` too.
 */

export const TEMPLATES_DIR = __dirname;

/** The brand as a template sees it; what the caller leaves out is the default. */
export interface RenderBrand {
  name: string;
  color?: string;
  logoUrl?: string | null;
  footer?: string | null;
  address?: string | null;
}

/** What a template sees besides the notification's data. */
export interface RenderContext {
  data: Record<string, unknown>;
  recipient: {
    name: string | null;
    email: string | null;
    externalId: string | null;
    /** BCP 47: picks the variants (fr-CA → fr → default) and formats dates and numbers. */
    locale?: string | null;
    /** IANA zone for `date_local`; UTC when absent. */
    timezone?: string | null;
  };
  brand: RenderBrand;
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

/** Where one variant of an event comes from at one locale (`inherited`: from a less specific one). */
export type VariantOrigin = 'tenant' | 'built-in' | 'inherited' | 'none';

export interface LocaleDescription {
  /** '' is the default locale. */
  locale: string;
  variants: Record<VariantName, VariantOrigin>;
}

/** A tenant's variants of one event and locale, as sent to PUT /v1/templates/{event}. */
export interface OverrideInput {
  /** '' for the default locale, else canonical BCP 47. */
  locale: string;
  /** Only for an event of the tenant's own. */
  manifest?: unknown;
  variants: VariantSources;
}

/** The checked override: the manifest to store with it (events of the tenant's own), or every problem. */
export type OverrideCheck =
  { ok: true; manifest: TemplateManifest | null } | { ok: false; problems: SourceProblem[] };

interface BuiltInLayer extends CompiledLayer {
  /** The variants written in this locale's own files; the rest were compiled from the default's. */
  own: Set<VariantName>;
}

interface Entry {
  manifest: TemplateManifest;
  builtIn: boolean;
  /** By locale ('' = default); each complete (a locale folder's missing files come from the default). */
  builtin: Map<string, BuiltInLayer>;
  /** The tenant's layers, by locale; only the variants it gave. */
  tenant: Map<string, CompiledLayer>;
}

interface Shared {
  layout: Layout;
  root: TemplateRegistry;
  /** Each tenant's compiled view and the version it was compiled at: a change gives a new version. */
  views: Lru<string, { version: number; view: Promise<TemplateRegistry> }>;
}

/** Tenants whose compiled templates a process keeps. */
const TENANT_VIEWS_KEPT = 256;

const FILES: Record<VariantName, string> = {
  subject: 'subject.liquid',
  mjml: 'email.mjml',
  text: 'text.liquid',
  sms: 'sms.liquid',
  push: 'push.yaml',
  inapp: 'inapp.yaml',
};

const log = createLogger('templates');

/**
 * The templates of every event, compiled once (the MJML at load time); a render is then only a
 * Liquid render per recipient. The built-in catalogue is `load()`ed; a tenant's view of it comes
 * from `forTenant`, compiled once per tenant and version and kept in a bounded cache.
 */
export class TemplateRegistry {
  private shared!: Shared;

  private constructor(private readonly entries: Map<string, Entry>) {}

  static async load(dir: string = TEMPLATES_DIR): Promise<TemplateRegistry> {
    const layout = await loadLayout(dir);
    const entries = new Map<string, Entry>();
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
      const folder = path.join(dir, entry.name);
      if (!existsSync(path.join(folder, 'manifest.yaml'))) continue;
      entries.set(entry.name, await loadBuiltIn(folder, entry.name, layout));
    }
    const root = new TemplateRegistry(entries);
    root.shared = { layout, root, views: new Lru(TENANT_VIEWS_KEPT) };
    return root;
  }

  /**
   * The catalogue as a tenant sees it: its own variants and events on top of the built-in ones. One
   * read of the tenant's version per call (a batch, a request); compiled only when it changed.
   */
  async forTenant(db: Queryable, tenantId: string): Promise<TemplateRegistry> {
    return this.forTenantAt(db, tenantId, await tenantTemplatesVersion(db, tenantId));
  }

  /**
   * `forTenant` with the tenant's version already read (the API reads it with the rest of what a
   * notification's acceptance needs, in one round trip: db/queries/send-context.ts).
   */
  async forTenantAt(db: Queryable, tenantId: string, version: number): Promise<TemplateRegistry> {
    const { root, views } = this.shared;
    if (version === 0) return root;
    const cached = views.get(tenantId);
    if (cached?.version === version) return cached.view;
    // Compiled once per version, even when several batches ask at once; the older one is dropped.
    const view = loadTenantTemplates(db, tenantId).then(({ rows }) => root.withTenantRows(tenantId, rows));
    views.set(tenantId, { version, view });
    // A failed load (the database) must not stay cached.
    view.catch(() => {
      if (views.get(tenantId)?.view === view) views.delete(tenantId);
    });
    return view;
  }

  /** A view with a tenant's rows compiled on top; a row that no longer compiles is left out (logged). */
  private async withTenantRows(tenantId: string, rows: TenantTemplateRow[]): Promise<TemplateRegistry> {
    const { layout } = this.shared;
    const entries = new Map(this.entries);
    const own = new Map<string, Entry>();
    for (const row of rows) {
      let entry = own.get(row.event);
      if (!entry) {
        const base = this.entries.get(row.event);
        if (base) entry = { ...base, tenant: new Map() };
        else if (row.locale === '' && row.manifest) {
          const parsed = parseManifest(row.manifest, row.event);
          if (!parsed.ok) {
            log.warn({ tenantId, event: row.event, issues: parsed.issues }, 'tenant manifest left out');
            continue;
          }
          entry = { manifest: parsed.manifest, builtIn: false, builtin: new Map(), tenant: new Map() };
        } else continue;
        own.set(row.event, entry);
      }
      const compiled = await compileLayer(row.variants, layout, row.locale);
      if (!compiled.ok) {
        log.warn(
          { tenantId, event: row.event, locale: row.locale, problems: compiled.problems },
          'tenant template left out',
        );
        continue;
      }
      entry.tenant.set(row.locale, compiled.layer);
    }
    for (const [event, entry] of own) {
      // An event of the tenant's own exists only with its default variants.
      if (entry.builtIn || entry.tenant.has('')) entries.set(event, entry);
    }
    const view = new TemplateRegistry(entries);
    view.shared = this.shared;
    return view;
  }

  events(): string[] {
    return [...this.entries.keys()].sort();
  }

  has(event: string): boolean {
    return this.entries.has(event);
  }

  manifest(event: string): TemplateManifest | undefined {
    return this.entries.get(event)?.manifest;
  }

  /** Whether the event is in the built-in catalogue (not a tenant's own). */
  isBuiltIn(event: string): boolean {
    return this.entries.get(event)?.builtIn === true;
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
    const entry = this.entries.get(event);
    if (!entry) return false;
    const variants = {
      email: true,
      sms: hasVariant(entry, 'sms'),
      whatsapp: hasVariant(entry, 'sms'),
      push: hasVariant(entry, 'push'),
      inapp: hasVariant(entry, 'inapp'),
      webhook: true,
    } satisfies Record<ChannelName, boolean>;
    return variants[channel];
  }

  /** Per locale the event has variants in, where each variant comes from. */
  describe(event: string): { builtIn: boolean; locales: LocaleDescription[] } | undefined {
    const entry = this.entries.get(event);
    if (!entry) return undefined;
    const locales = [...new Set([...entry.builtin.keys(), ...entry.tenant.keys()])].sort();
    return {
      builtIn: entry.builtIn,
      locales: locales.map((locale) => ({
        locale,
        variants: Object.fromEntries(
          VARIANTS.map((variant): [VariantName, VariantOrigin] => {
            if (entry.tenant.get(locale)?.[variant]) return [variant, 'tenant'];
            if (entry.builtin.get(locale)?.own.has(variant)) return [variant, 'built-in'];
            return [variant, locale === '' || !hasVariant(entry, variant) ? 'none' : 'inherited'];
          }),
        ) as Record<VariantName, VariantOrigin>,
      })),
    };
  }

  /**
   * Checks a tenant's variants of one event and locale whole, against this (the tenant's) view: the
   * manifest rules, each variant's Liquid and MJML, the variables it reads, a render of the sample.
   */
  async checkOverride(
    event: string,
    input: OverrideInput,
    options: { allowLoopbackUrls: boolean },
  ): Promise<OverrideCheck> {
    const problems: SourceProblem[] = [];
    const entry = this.entries.get(event);
    const given = VARIANTS.filter((v) => input.variants[v] !== undefined);
    let manifest = entry?.manifest;
    let newManifest: TemplateManifest | null = null;
    if (input.manifest !== undefined) {
      if (entry?.builtIn)
        problems.push({
          path: 'manifest',
          message: `${event} is built in: its manifest stays; override its variants only`,
        });
      else if (input.locale !== '')
        problems.push({
          path: 'manifest',
          message: 'a manifest goes with the default locale: leave locale out',
        });
      else {
        const parsed = parseManifest(input.manifest, event);
        if (parsed.ok) manifest = newManifest = parsed.manifest;
        else problems.push(...parsed.issues.map((i) => ({ path: `manifest.${i.path}`, message: i.message })));
      }
    } else if (!entry) {
      problems.push({
        path: input.locale === '' ? 'manifest' : 'locale',
        message:
          input.locale === ''
            ? `${event} is not in the catalogue: send its manifest to add it as an event of your own`
            : `${event} is not in the catalogue: PUT its default variants with a manifest first`,
      });
    } else if (!entry.builtIn && input.locale === '') {
      // An event of the tenant's own keeps its manifest when a PUT of its default variants leaves it out.
      newManifest = entry.manifest;
    }
    if (given.length === 0) problems.push({ path: 'variants', message: 'give at least one variant' });
    const custom = entry ? !entry.builtIn : true;
    if (custom && input.locale === '') {
      for (const variant of ['subject', 'mjml', 'text'] as const)
        if (input.variants[variant] === undefined)
          problems.push({
            path: `variants.${variant}`,
            message: 'required for an event of your own (email)',
          });
    }
    if (entry && input.locale !== '') {
      for (const variant of ['sms', 'push', 'inapp'] as const)
        if (input.variants[variant] !== undefined && !hasVariant(entry, variant))
          problems.push({
            path: `variants.${variant}`,
            message: `${event} has no ${variant} variant in its default locale: add it there first`,
          });
    }
    if (problems.length > 0 || !manifest) return { ok: false, problems };
    const compiled = await compileLayer(input.variants, this.shared.layout, input.locale, {
      manifest,
      allowLoopbackUrls: options.allowLoopbackUrls,
    });
    if (!compiled.ok) return { ok: false, problems: compiled.problems };
    return { ok: true, manifest: newManifest };
  }

  renderEmail(event: string, context: RenderContext): RenderedEmail {
    return this.render(event, context, (layers, scope) => ({
      // A subject is one header line: collapse whitespace so no data can inject a header.
      subject: oneLine(textEngine.renderSync(pick(layers, 'subject'), scope)),
      html: String(htmlEngine.renderSync(pick(layers, 'mjml'), scope)),
      text: String(textEngine.renderSync(pick(layers, 'text'), scope)).trim() + '\n',
    }));
  }

  /** The SMS (and WhatsApp) text: plain, one paragraph. */
  renderSms(event: string, context: RenderContext): string {
    return this.render(event, context, (layers, scope) =>
      oneLine(textEngine.renderSync(pick(layers, 'sms'), scope)),
    );
  }

  renderPush(event: string, context: RenderContext): RenderedCard {
    return this.render(event, context, (layers, scope) => renderCard(pick(layers, 'push'), scope));
  }

  renderInapp(event: string, context: RenderContext): RenderedCard {
    return this.render(event, context, (layers, scope) => renderCard(pick(layers, 'inapp'), scope));
  }

  private render<T>(
    event: string,
    context: RenderContext,
    fn: (layers: CompiledLayer[], scope: object) => T,
  ): T {
    const entry = this.entries.get(event);
    if (!entry) throw new TemplateRenderError(event, 'no such template');
    const locale = context.recipient.locale ?? null;
    const timezone = context.recipient.timezone ?? null;
    const layers = localeChain(locale).flatMap((l) => [entry.tenant.get(l), entry.builtin.get(l)] as const);
    const color = context.brand.color;
    const scope = {
      // Optional variables the data leaves out are null rather than undefined: with strictVariables,
      // Liquid builds (and its `if` guard catches) an error for every undefined name it meets, and
      // those errors were about 5 % of a fan-out's worker time (10 per email of ticket.assigned). A
      // guard reads null as it read undefined; an unguarded output of an absent optional variable
      // prints nothing instead of failing the delivery.
      ...absentAsNull(entry.manifest.variables, context.data),
      ...context.data,
      recipient: { ...context.recipient, locale, timezone },
      brand: {
        name: context.brand.name,
        // Goes into style attributes: nothing but #rrggbb.
        color: color && /^#[0-9a-fA-F]{6}$/.test(color) ? color : DEFAULT_BRAND_COLOR,
        logoUrl: context.brand.logoUrl ?? null,
        footer: context.brand.footer ?? null,
        address: context.brand.address ?? null,
      },
      notification: context.notification,
      unsubscribeUrl: context.unsubscribeUrl ?? null,
      ackUrl: context.ackUrl ?? null,
      [FORMAT]: {
        locale: (locale && canonicalLocale(locale)) || DEFAULT_FORMAT.locale,
        timeZone: timezone || DEFAULT_FORMAT.timeZone,
      },
    };
    try {
      return fn(
        layers.filter((l): l is CompiledLayer => l !== undefined),
        scope,
      );
    } catch (error) {
      throw new TemplateRenderError(event, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
  }
}

const oneLine = (text: unknown): string => String(text).replace(/\s+/g, ' ').trim();

/** The first layer's variant, most specific first. */
function pick<V extends VariantName>(layers: CompiledLayer[], variant: V): NonNullable<CompiledLayer[V]> {
  for (const layer of layers) {
    const found = layer[variant];
    if (found) return found as NonNullable<CompiledLayer[V]>;
  }
  throw new Error(`no ${variant === 'mjml' ? 'email' : variant} variant`);
}

/** Whether the event has the variant at all: in its default locale, built in or the tenant's. */
const hasVariant = (entry: Entry, variant: VariantName): boolean =>
  Boolean(entry.builtin.get('')?.[variant] ?? entry.tenant.get('')?.[variant]);

function renderCard(card: CompiledCard, scope: object): RenderedCard {
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

const stringsSchema = z.record(z.string(), z.record(z.string(), z.string()));

async function loadLayout(dir: string): Promise<Layout> {
  const mjml = await readFile(path.join(dir, '_layout', 'layout.mjml'), 'utf8');
  if (!mjml.includes(CONTENT_MARKER)) throw new Error(`layout has no ${CONTENT_MARKER} marker`);
  const footerPath = path.join(dir, '_layout', 'text-footer.liquid');
  const stringsPath = path.join(dir, '_layout', 'strings.yaml');
  const strings = existsSync(stringsPath)
    ? stringsSchema.safeParse(YAML.parse(await readFile(stringsPath, 'utf8')))
    : { success: true as const, data: {} };
  if (!strings.success) throw new Error(`templates/_layout/strings.yaml: ${z.prettifyError(strings.error)}`);
  return {
    mjml,
    textFooter: existsSync(footerPath) ? await readFile(footerPath, 'utf8') : '',
    strings: strings.data,
  };
}

/** The variant files present in a folder, as sources. */
async function readSources(folder: string, label: string): Promise<VariantSources> {
  const sources: VariantSources = {};
  for (const variant of VARIANTS) {
    const file = path.join(folder, FILES[variant]);
    if (!existsSync(file)) continue;
    const text = await readFile(file, 'utf8');
    if (variant === 'push' || variant === 'inapp') {
      const parsed = cardSchema.safeParse(YAML.parse(text));
      if (!parsed.success) throw new Error(`${label}/${FILES[variant]}: ${z.prettifyError(parsed.error)}`);
      sources[variant] = parsed.data;
    } else sources[variant] = text;
  }
  return sources;
}

async function compileBuiltIn(
  sources: VariantSources,
  layout: Layout,
  locale: string,
  label: string,
): Promise<CompiledLayer> {
  const compiled = await compileLayer(sources, layout, locale);
  if (!compiled.ok)
    throw new Error(`${label}: ${compiled.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return compiled.layer;
}

/** One built-in event: its default variants, and one complete layer per locale folder. */
async function loadBuiltIn(folder: string, event: string, layout: Layout): Promise<Entry> {
  const label = `templates/${event}`;
  const parsed = parseManifest(YAML.parse(await readFile(path.join(folder, 'manifest.yaml'), 'utf8')), event);
  if (!parsed.ok)
    throw new Error(
      `${label}/manifest.yaml: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
  const defaults = await readSources(folder, label);
  for (const variant of ['subject', 'mjml', 'text'] as const)
    if (defaults[variant] === undefined) throw new Error(`${label}/${FILES[variant]} is missing`);
  const builtin = new Map<string, BuiltInLayer>();
  builtin.set('', {
    ...(await compileBuiltIn(defaults, layout, '', label)),
    own: new Set(VARIANTS.filter((v) => defaults[v] !== undefined)),
  });
  for (const sub of await readdir(folder, { withFileTypes: true })) {
    if (!sub.isDirectory() || sub.name.startsWith('.')) continue;
    const canonical = canonicalLocale(sub.name);
    if (canonical !== sub.name)
      throw new Error(
        `${label}/${sub.name}/: a locale folder is named by its canonical BCP 47 tag${canonical ? ` (${canonical})` : ''}`,
      );
    const own = await readSources(path.join(folder, sub.name), `${label}/${sub.name}`);
    for (const variant of VARIANTS)
      if (own[variant] !== undefined && defaults[variant] === undefined)
        throw new Error(
          `${label}/${sub.name}/${FILES[variant]}: the default locale has no ${variant} variant`,
        );
    builtin.set(sub.name, {
      ...(await compileBuiltIn({ ...defaults, ...own }, layout, sub.name, `${label}/${sub.name}`)),
      own: new Set(VARIANTS.filter((v) => own[v] !== undefined)),
    });
  }
  return { manifest: parsed.manifest, builtIn: true, builtin, tenant: new Map() };
}

/** `null` for each optional variable `data` does not have (a required one left out still fails the render). */
function absentAsNull(
  declared: Record<string, { required: boolean }>,
  data: Record<string, unknown>,
): Record<string, null> {
  const absent: Record<string, null> = {};
  for (const [name, spec] of Object.entries(declared))
    if (!spec.required && !(name in data)) absent[name] = null;
  return absent;
}
