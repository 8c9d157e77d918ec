import { createApp } from '../../api/app';
import { loadApiConfig } from '../../api/config';
import type { ApiDeps } from '../../api/deps';
import type { OpenApiDocument } from '../../api/openapi';

/**
 * The document `/openapi.json` serves, without a server, database or Temporal: building the app
 * reads only its config, and only the document route runs (no handler touches `db` or `temporal`).
 */
export async function currentOpenApiDocument(): Promise<OpenApiDocument> {
  const config = loadApiConfig({ DATABASE_URL: 'postgres://unused.invalid/herald' });
  const app = createApp({ config } as ApiDeps);
  const response = await app.request('/openapi.json');
  if (response.status !== 200) throw new Error(`GET /openapi.json answered ${response.status}`);
  return (await response.json()) as OpenApiDocument;
}
