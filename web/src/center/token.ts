/**
 * The end-user token arrives in the URL fragment (`/app#token=heu_…`, the `centerUrl` of
 * POST /v1/recipients/{externalId}/tokens), which browsers send to no server and put in no Referer.
 * It moves to sessionStorage at once and the fragment is stripped, so it leaves no trace in the
 * history or a bookmark; a reload of the tab still finds it.
 */
const KEY = 'herald.center.token';

export function takeToken(): string | null {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromUrl = fragment.get('token');
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    return fromUrl;
  }
  return sessionStorage.getItem(KEY);
}

/** After the API refused the token (expired, revoked key): a reload must not try it again. */
export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
