/**
 * Building elements without HTML strings: every text goes in through textContent, so nothing the
 * API returns (titles, descriptions, reasons) can become markup.
 */
type Attributes = Record<string, string | boolean | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children)
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  return element;
}

/** A label only screen readers read, for controls whose meaning the table layout shows visually. */
export const hiddenLabel = (forId: string, text: string) => el('label', { for: forId, class: 'vh' }, [text]);

let counter = 0;
/** A fresh id for pairing a label with its control. */
export const uid = (prefix: string) => `${prefix}-${++counter}`;

/** Finds a required element of the page shell; a missing one is a bug in index.html. */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html lacks #${id}`);
  return element as T;
}
