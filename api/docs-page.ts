import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { BEARER_SCHEME } from './auth/access';
import type { AppEnv } from './deps';
import type { OpenApiDocument } from './openapi';

/** Where the page loads Scalar's script from: this server, never a CDN (the docs work offline). */
export const SCALAR_SCRIPT_PATH = '/docs/scalar.js';

/** The package does not export its browser bundle, so find it beside its entry point. */
const SCALAR_BUNDLE = path.join(
  path.dirname(require.resolve('@scalar/api-reference')),
  'browser',
  'standalone.js',
);

let bundle: Promise<Buffer> | undefined;
/** Read once (about 5 MB), on the first request for it; the file does not change while we run. */
const scalarBundle = () => (bundle ??= readFile(SCALAR_BUNDLE));

/**
 * `/openapi.json`, and the API reference at `/docs`: Scalar rendering that document, with its
 * script served by us and everything that would reach out (fonts, telemetry, the hosted client
 * and MCP buttons) switched off.
 */
export function apiReferenceRoutes(document: () => OpenApiDocument) {
  let built: OpenApiDocument | undefined;
  // Routes are fixed once the app is built: the document is made once, on first use.
  const current = () => (built ??= document());
  return (
    new Hono<AppEnv>()
      .get('/openapi.json', (c) => c.json(current()))
      // About 5 MB as it ships, a quarter of that gzipped.
      .get(SCALAR_SCRIPT_PATH, compress(), async (c) => {
        c.header('content-type', 'text/javascript; charset=utf-8');
        c.header('cache-control', 'public, max-age=3600');
        return c.body(new Uint8Array(await scalarBundle()));
      })
      .get(
        '/docs',
        // The "try it" server and the curl examples point at where the caller reached us.
        Scalar<AppEnv>((c) => ({
          url: '/openapi.json',
          cdn: SCALAR_SCRIPT_PATH,
          pageTitle: 'Herald API',
          servers: [{ url: c.var.deps.config.PUBLIC_BASE_URL ?? new URL(c.req.url).origin }],
          // The bearer scheme, ready for a key, in the reference's authentication box.
          authentication: { preferredSecurityScheme: BEARER_SCHEME },
          withDefaultFonts: false,
          telemetry: false,
          hideClientButton: true,
          mcp: { disabled: true },
          agent: { disabled: true },
          showDeveloperTools: 'never',
          defaultOpenFirstTag: true,
          orderRequiredPropertiesFirst: true,
        })),
      )
  );
}
