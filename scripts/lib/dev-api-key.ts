/** The development stack's own API key: one per data directory, reused while it stays valid. */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import { hashApiKey, looksLikeApiKey, TENANT_KEY_SCOPES } from '../../common/api-keys';
import { createApiKey, findActiveApiKey } from '../../db/queries/api-keys';

/** The tenant `npm run dev` loads the demo data into. */
export const DEMO_TENANT = 'demo';

/**
 * The key in `<dataDir>/api-key` when it still opens every tenant scope (and `critical`) of
 * `tenantId`; otherwise a new such key, written there (mode 0600). Keys are stored hashed, so
 * the file is the only place a key can be read back from.
 */
export async function ensureDevApiKey(
  pool: Pool,
  dataDir: string,
  tenantId: string,
): Promise<{ key: string; reused: boolean }> {
  const file = path.join(dataDir, 'api-key');
  const stored = await readKeyFile(file);
  if (stored && looksLikeApiKey(stored)) {
    const found = await findActiveApiKey(pool, hashApiKey(stored));
    if (found?.tenantId === tenantId && TENANT_KEY_SCOPES.every((s) => found.scopes.includes(s))) {
      await chmod(file, 0o600);
      return { key: stored, reused: true };
    }
  }
  const { key } = await createApiKey(pool, {
    tenantId,
    name: 'npm run dev',
    scopes: TENANT_KEY_SCOPES,
  });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  // `mode` applies only when the file is created; an existing one keeps its own.
  await chmod(file, 0o600);
  return { key, reused: false };
}

async function readKeyFile(file: string): Promise<string | null> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
