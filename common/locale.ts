/**
 * BCP 47 locales for template selection. Variants are kept under canonical tags (`fr-CA`, not
 * `FR-ca`); '' stands for the default locale (the catalogue's own language, English).
 */

/** The canonical form of a BCP 47 tag (without extensions), or null when it is not one. */
export function canonicalLocale(tag: string): string | null {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical ? new Intl.Locale(canonical).baseName : null;
  } catch {
    return null;
  }
}

/** Whether `tag` is a well-formed BCP 47 language tag such as `fr`, `pt-BR` or `zh-Hant-TW`. */
export const isLocaleTag = (tag: string): boolean => canonicalLocale(tag) !== null;

/**
 * The locales to look in, most specific first, ending with the default: `fr-CA` → fr-CA, fr, ''.
 * An absent or malformed tag gives just the default.
 */
export function localeChain(tag: string | null | undefined): string[] {
  const canonical = tag ? canonicalLocale(tag) : null;
  if (!canonical) return [''];
  const parts = canonical.split('-');
  const chain: string[] = [];
  for (let n = parts.length; n > 0; n--) chain.push(parts.slice(0, n).join('-'));
  return [...chain, ''];
}

/** How a locale key is shown in the API: '' is `default`. */
export const localeLabel = (locale: string): string => locale || 'default';
