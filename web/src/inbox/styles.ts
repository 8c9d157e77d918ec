/**
 * The element's shadow styles. Themable from the host page with CSS custom properties, which
 * cross the shadow boundary: --herald-accent, --herald-bg, --herald-fg, --herald-font,
 * --herald-radius (and --herald-muted, --herald-border for the quieter lines). The defaults keep
 * text at 4.5:1 or better against the background.
 */
export const INBOX_CSS = `
:host {
  --_accent: var(--herald-accent, #1f56c8);
  --_bg: var(--herald-bg, #ffffff);
  --_fg: var(--herald-fg, #1b1f24);
  --_muted: var(--herald-muted, #545d68);
  --_border: var(--herald-border, #d0d7de);
  --_radius: var(--herald-radius, 8px);
  display: block;
  box-sizing: border-box;
  max-width: 100%;
  min-width: 0;
  color: var(--_fg);
  background: var(--_bg);
  font-family: var(--herald-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  font-size: 15px;
  line-height: 1.4;
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  overflow: hidden;
}
:host([hidden]), [hidden] { display: none !important; }
*, *::before, *::after { box-sizing: inherit; }
header {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 8px;
  padding: 10px 12px;
  border-bottom: 1px solid var(--_border);
}
h2 { margin: 0; font-size: 1.05em; flex: 1 1 auto; display: flex; align-items: center; gap: 8px; }
.badge {
  min-width: 1.6em;
  padding: 0 6px;
  border-radius: 999px;
  background: var(--_accent);
  color: #ffffff;
  font-size: 0.8em;
  font-weight: 700;
  line-height: 1.6em;
  text-align: center;
}
.badge[data-count="0"] { background: transparent; color: var(--_muted); border: 1px solid var(--_border); }
button, a { font: inherit; color: var(--_accent); }
button {
  min-height: 32px;
  padding: 4px 10px;
  border: 1px solid currentColor;
  border-radius: calc(var(--_radius) / 2);
  background: transparent;
  cursor: pointer;
}
button:hover { background: color-mix(in srgb, var(--_accent) 10%, transparent); }
button:disabled, button[aria-disabled="true"] { color: var(--_muted); cursor: default; background: transparent; }
li[aria-busy="true"] .actions { opacity: 0.6; }
:focus-visible { outline: 3px solid var(--_accent); outline-offset: 2px; }
ul { list-style: none; margin: 0; padding: 0; }
li {
  display: grid;
  grid-template-columns: 12px minmax(0, 1fr);
  column-gap: 8px;
  padding: 10px 12px;
  border-bottom: 1px solid var(--_border);
}
li:last-child { border-bottom: 0; }
.marker { width: 10px; height: 10px; margin-top: 0.4em; border-radius: 50%; }
li[data-unread="true"] .marker { background: var(--_accent); }
li[data-unread="true"] .title { font-weight: 700; }
.title { margin: 0; overflow-wrap: anywhere; }
.body { margin: 2px 0 0; overflow-wrap: anywhere; white-space: pre-line; }
time { display: block; margin-top: 2px; color: var(--_muted); font-size: 0.85em; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.state { margin: 0; padding: 16px 12px; color: var(--_muted); }
.state[data-kind="error"] { color: #b3261e; }
.status { padding: 6px 12px; color: var(--_muted); font-size: 0.85em; border-top: 1px solid var(--_border); }
.status:empty { display: none; }
.more { display: block; margin: 8px auto; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
`;

/**
 * The styles as a constructed stylesheet where the browser has them: a host page whose
 * Content-Security-Policy forbids inline styles still styles the element.
 */
export function applyStyles(root: ShadowRoot): void {
  if (
    'adoptedStyleSheets' in root &&
    typeof CSSStyleSheet !== 'undefined' &&
    'replaceSync' in CSSStyleSheet.prototype
  ) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(INBOX_CSS);
    root.adoptedStyleSheets = [sheet];
    return;
  }
  const style = document.createElement('style');
  style.textContent = INBOX_CSS;
  root.append(style);
}
