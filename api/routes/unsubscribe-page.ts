/**
 * The HTML pages behind an unsubscribe link: what a person sees after clicking "Unsubscribe" in a
 * message's footer. Every value is escaped; the pages load nothing (no scripts, images or fonts),
 * which the Content-Security-Policy of `UNSUBSCRIBE_PAGE_HEADERS` enforces.
 */

/** Answer headers of every page: nothing to load or frame, forms post only to us, no referrer (the token is in the URL). */
export const UNSUBSCRIBE_PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

/**
 * Which page: `confirm` (the link opened, still subscribed), `unsubscribed` (just now, or already),
 * `resubscribed`.
 */
export type UnsubscribeState = 'confirm' | 'unsubscribed' | 'resubscribed';

export interface UnsubscribePageInput {
  state: UnsubscribeState;
  token: string;
  category: string;
  brandName: string;
  /** Where people manage all their notification preferences (PREFERENCES_URL); none: a sentence instead. */
  preferencesUrl?: string;
  /** Which URL shows the page: forms post by relative URLs, so the API may sit behind any prefix. */
  at: 'link' | 'resubscribe';
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}' +
  'button{background:#1f4fd1;color:#fff;border:0;padding:.7rem 1.2rem;border-radius:4px;font-size:1rem;cursor:pointer}' +
  'button.link{background:none;color:#1f4fd1;padding:0;text-decoration:underline;font-size:inherit}' +
  'p.small{color:#6b7280;font-size:.9rem}form{display:inline}';

/** A form that POSTs to `action` (relative), carrying the one-click field when it unsubscribes. */
function form(action: string, label: string, options: { oneClick?: boolean; asLink?: boolean } = {}): string {
  const field = options.oneClick ? '<input type="hidden" name="List-Unsubscribe" value="One-Click">' : '';
  const cls = options.asLink ? ' class="link"' : '';
  return `<form method="post" action="${escapeHtml(action)}">${field}<button type="submit"${cls}>${escapeHtml(label)}</button></form>`;
}

export function renderUnsubscribePage(input: UnsubscribePageInput): string {
  // From /v1/unsubscribe/<token>, "<token>" is the link itself; from …/<token>/resubscribe, "../<token>".
  const linkAction = input.at === 'link' ? input.token : `../${input.token}`;
  const resubscribeAction = input.at === 'link' ? `${input.token}/resubscribe` : 'resubscribe';
  const category = `<strong>${escapeHtml(input.category)}</strong>`;
  const brand = escapeHtml(input.brandName);
  const preferences = input.preferencesUrl
    ? `<p class="small"><a href="${escapeHtml(input.preferencesUrl)}">Manage all your notification preferences</a></p>`
    : `<p class="small">To choose which other notifications you get, open your notification preferences in ${brand}.</p>`;
  const exempt =
    '<p class="small">Security messages (such as password resets) and urgent notifications still reach you.</p>';
  let title: string;
  let body: string;
  switch (input.state) {
    case 'confirm':
      title = 'Unsubscribe';
      body =
        `<h1>Unsubscribe from ${category} emails?</h1>` +
        `<p>You will no longer get emails about ${category} from ${brand}.</p>` +
        form(linkAction, 'Unsubscribe', { oneClick: true }) +
        exempt;
      break;
    case 'unsubscribed':
      title = 'Unsubscribed';
      body =
        `<h1>You are unsubscribed</h1>` +
        `<p>You will no longer get emails about ${category} from ${brand}.</p>` +
        exempt +
        `<div>Unsubscribed by mistake? ${form(resubscribeAction, 'Resubscribe', { asLink: true })}</div>`;
      break;
    case 'resubscribed':
      title = 'Resubscribed';
      body =
        `<h1>You are subscribed again</h1>` +
        `<p>You will get emails about ${category} from ${brand} again.</p>` +
        form(linkAction, 'Unsubscribe', { oneClick: true });
      break;
  }
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
    `<meta name="referrer" content="no-referrer"><title>${title} · ${brand}</title><style>${STYLE}</style></head>` +
    `<body>${body}${preferences}</body></html>`
  );
}
