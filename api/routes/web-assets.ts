import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../deps';
import { HttpError, notFound } from '../errors';

/**
 * The browser code, bundled into web/dist by web/build.ts, served as static files: the embeddable
 * inbox at /embed/, the notification center at /app/. Public: these files hold code, never data
 * (the data comes from /v1 with the person's token). Found beside this file, whatever the cwd.
 */
export const WEB_DIST = path.resolve(__dirname, '..', '..', 'web', 'dist');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The pages' policy: scripts and styles from this origin only (no inline script, no eval), data
 * from this origin's API, no framing, no plugins, nothing else.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** A path segment we serve: letters, digits, `.`, `_`, `-`, not starting with a dot (no `..`, no dotfiles). */
const SAFE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The routes over one dist directory (tests point it elsewhere). */
export function createWebAssetRoutes(dist: string = WEB_DIST) {
  const root = path.resolve(dist);

  const serve = async (c: Context<AppEnv>, relative: string, options: ServeOptions = {}) => {
    if (!existsSync(root)) return notBuilt(c);
    const segments = relative.split('/');
    if (!segments.every((s) => SAFE_SEGMENT.test(s))) return missing(c);
    const file = path.resolve(root, ...segments);
    if (!file.startsWith(root + path.sep)) return missing(c);
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()];
    if (!type) return missing(c);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return missing(c);
    const html = type.startsWith('text/html');
    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const headers: Record<string, string> = {
      'Content-Type': type,
      'X-Content-Type-Options': 'nosniff',
      ETag: etag,
      // Names carry no content hash: HTML and the service worker are revalidated on every load,
      // the rest may be reused for a few minutes.
      'Cache-Control': html || options.revalidate ? 'no-cache' : 'public, max-age=300',
      ...(html ? { 'Content-Security-Policy': PAGE_CSP, 'Referrer-Policy': 'no-referrer' } : {}),
      ...options.headers,
    };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(await readFile(file), 200, headers);
  };

  const routes = new Hono<AppEnv>();
  // A host page of any origin loads the inbox with a plain <script src>.
  const embed = { headers: { 'Cross-Origin-Resource-Policy': 'cross-origin' } };
  for (const file of ['herald-inbox.js', 'herald-inbox.js.map'])
    routes.get(`/embed/${file}`, (c) => serve(c, file, embed));
  routes.get('/app', (c) => serve(c, 'center/index.html'));
  routes.get('/app/', (c) => serve(c, 'center/index.html'));
  // The bundles sit at the top of web/dist; the worker at /app/sw.js controls /app/ by default.
  for (const file of ['center.js', 'center.js.map', 'sw.js', 'sw.js.map'])
    routes.get(`/app/${file}`, (c) => serve(c, file, { revalidate: file === 'sw.js' }));
  routes.get('/app/*', (c) => serve(c, `center/${c.req.path.slice('/app/'.length)}`));
  return routes;
}

interface ServeOptions {
  /** Revalidate on every use (`no-cache`), as HTML always is. */
  revalidate?: boolean;
  headers?: Record<string, string>;
}

export const webAssetRoutes = createWebAssetRoutes();

const missing = (c: Context<AppEnv>) =>
  c.json(notFound(`file ${c.req.path}`).toJSON(), 404, { 'X-Content-Type-Options': 'nosniff' });

const notBuilt = (c: Context<AppEnv>) =>
  c.json(
    new HttpError(503, 'web_not_built', 'the web assets are not built: run `npm run build:web`', [
      { path: 'web/dist', message: 'missing; web/build.ts makes it' },
    ]).toJSON(),
    503,
  );
