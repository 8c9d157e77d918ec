import type { Liquid } from 'liquidjs';

/**
 * Where a render keeps the locale and time zone the formatting filters use. A symbol key on the
 * scope: templates cannot read or overwrite it (no Liquid expression names a symbol).
 */
export const FORMAT = Symbol('herald.format');

export interface FormatSettings {
  /** BCP 47; the recipient's (or the request's, or the tenant's default). */
  locale: string;
  /** IANA zone; the recipient's (or the tenant's), UTC otherwise. */
  timeZone: string;
}

export const DEFAULT_FORMAT: FormatSettings = { locale: 'en', timeZone: 'UTC' };

const DATE_STYLES = ['full', 'long', 'medium', 'short'] as const;
type DateStyle = (typeof DATE_STYLES)[number];

function formatOf(context: { environments: object }): FormatSettings {
  const own = (context.environments as { [FORMAT]?: FormatSettings })[FORMAT];
  return own ?? DEFAULT_FORMAT;
}

const style = (value: unknown, name: string, allowNone: boolean): DateStyle | undefined => {
  if (allowNone && value === 'none') return undefined;
  if (typeof value === 'string' && (DATE_STYLES as readonly string[]).includes(value))
    return value as DateStyle;
  throw new Error(
    `${name} must be one of ${DATE_STYLES.join(', ')}${allowNone ? ', none' : ''}, got ${String(value)}`,
  );
};

/** A date from an ISO 8601 string or epoch milliseconds; null when it is neither. */
function toDate(value: unknown): Date | null {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const ms = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value);
    return Number.isNaN(ms) ? null : new Date(ms);
  }
  return null;
}

/**
 * An Intl formatter in the render's locale and zone; a locale or zone Intl refuses (a recipient's
 * record is free text) falls back to the defaults rather than failing the delivery.
 */
function withFallback<T>(settings: FormatSettings, make: (locale: string, timeZone: string) => T): T {
  try {
    return make(settings.locale, settings.timeZone);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    try {
      return make(settings.locale, DEFAULT_FORMAT.timeZone);
    } catch {
      return make(DEFAULT_FORMAT.locale, DEFAULT_FORMAT.timeZone);
    }
  }
}

/**
 * `{{ dueAt | date_local: "long" }}`: a date in the recipient's locale and time zone, as
 * `Intl.DateTimeFormat(locale, { dateStyle, timeStyle, timeZone })` writes it. dateStyle defaults to
 * medium, timeStyle to short (`"none"`: the date alone). A value that is not a date is shown as it is.
 *
 * `{{ amount | number_local }}`, `{{ amount | number_local: "EUR" }}`: a number in the recipient's
 * locale, as a currency amount when a currency code is given.
 */
export function registerFormatFilters(engine: Liquid): void {
  engine.registerFilter('date_local', function (this: { context: { environments: object } }, value, ...args) {
    const date = toDate(value);
    if (!date || Number.isNaN(date.getTime())) return value;
    const dateStyle = style(args[0] ?? 'medium', 'date_local: dateStyle', false);
    const timeStyle = style(args[1] ?? 'short', 'date_local: timeStyle', true);
    return withFallback(formatOf(this.context), (locale, timeZone) =>
      new Intl.DateTimeFormat(locale, { dateStyle, timeStyle, timeZone }).format(date),
    );
  });
  engine.registerFilter(
    'number_local',
    function (this: { context: { environments: object } }, value, currency) {
      const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
      if (Number.isNaN(number) || (typeof value === 'string' && value.trim() === '')) return value;
      if (currency !== undefined && (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)))
        throw new Error(`number_local: currency must be a 3-letter ISO 4217 code, got ${String(currency)}`);
      return withFallback(formatOf(this.context), (locale) =>
        new Intl.NumberFormat(locale, currency ? { style: 'currency', currency } : {}).format(number),
      );
    },
  );
}
