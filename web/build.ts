/**
 * Bundles the browser code (web/src) into web/dist, which the API serves (api/routes/web-assets.ts):
 * the embeddable <herald-inbox>, the notification center and its
 * service worker; then copies web/static as it is. `tsx web/build.ts` builds; `--if-stale` builds
 * only when a source is newer than the last build. Each output is written beside its place and
 * renamed over it, so an API serving web/dist while another process rebuilds never reads half a file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile, copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';

export const WEB_ROOT = __dirname;
export const WEB_DIST = path.join(WEB_ROOT, 'dist');
const STAMP = path.join(WEB_DIST, '.build-stamp');

interface Entry {
  source: string;
  out: string;
  /** false: built only when its source exists (another part of the project writes it). */
  required: boolean;
}

const ENTRIES: Entry[] = [
  { source: 'src/inbox/herald-inbox.ts', out: 'herald-inbox.js', required: true },
  { source: 'src/center/app.ts', out: 'center.js', required: true },
  { source: 'src/center/sw.ts', out: 'sw.js', required: true },
];

const COMMON: BuildOptions = {
  bundle: true,
  // A classic script (not a module): a host page's plain <script src> loads it cross-origin without CORS.
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  write: false,
  logLevel: 'silent',
};

export interface WebBuildResult {
  built: string[];
  skipped: string[];
  failed: { source: string; message: string }[];
}

/** Builds every entry it can; one broken entry does not stop the others (see `failed`). */
export async function buildWeb(options: { ifStale?: boolean } = {}): Promise<WebBuildResult> {
  const result: WebBuildResult = { built: [], skipped: [], failed: [] };
  if (options.ifStale && !(await isStale())) return result;
  await mkdir(WEB_DIST, { recursive: true });
  for (const entry of ENTRIES) {
    const source = path.join(WEB_ROOT, entry.source);
    if (!entry.required && !existsSync(source)) {
      result.skipped.push(entry.source);
      continue;
    }
    try {
      const { outputFiles } = await build({
        ...COMMON,
        entryPoints: [source],
        outfile: path.join(WEB_DIST, entry.out),
      });
      for (const file of outputFiles ?? []) await writeAtomically(file.path, file.contents);
      result.built.push(entry.out);
    } catch (error) {
      result.failed.push({ source: entry.source, message: (error as Error).message });
    }
  }
  await copyTree(path.join(WEB_ROOT, 'static'), WEB_DIST);
  if (result.failed.length === 0) await writeAtomically(STAMP, new Date().toISOString());
  return result;
}

async function writeAtomically(file: string, contents: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, contents);
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  if (!existsSync(from)) return;
  for (const item of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, item.name);
    const target = path.join(to, item.name);
    if (item.isDirectory()) await copyTree(source, target);
    else if (item.isFile()) {
      await mkdir(to, { recursive: true });
      const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      await copyFile(source, temporary);
      await rename(temporary, target);
    }
  }
}

/** Whether any source (web/src, web/static, this script) changed after the last complete build. */
async function isStale(): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(STAMP)).mtimeMs;
  } catch {
    return true;
  }
  const newest = Math.max(
    (await stat(__filename)).mtimeMs,
    await newestIn(path.join(WEB_ROOT, 'src')),
    await newestIn(path.join(WEB_ROOT, 'static')),
  );
  return newest > built;
}

async function newestIn(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  let newest = (await stat(dir)).mtimeMs; // a deleted file changes its directory's mtime
  for (const item of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, item.name);
    newest = Math.max(newest, item.isDirectory() ? await newestIn(full) : (await stat(full)).mtimeMs);
  }
  return newest;
}

if (require.main === module) {
  const ifStale = process.argv.includes('--if-stale');
  buildWeb({ ifStale }).then(
    (result) => {
      if (result.built.length > 0) console.error(`web/dist: built ${result.built.join(', ')}`);
      for (const failure of result.failed)
        console.error(`web/dist: ${failure.source} failed:\n${failure.message}`);
      if (result.failed.length > 0) process.exit(1);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
