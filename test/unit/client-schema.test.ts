import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');
const CLIENT = path.join(ROOT, 'clients', 'typescript');
const FILES = ['openapi.json', path.join('src', 'schema.d.ts')];

describe('the typed client (clients/typescript)', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'herald-client-'));
    // The real command (openapi-typescript loads as ESM, which jest's CommonJS runtime cannot).
    await promisify(execFile)(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/generate-client.ts', '--out', out],
      { cwd: ROOT, timeout: 120_000 },
    );
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it.each(FILES)('checked-in %s is what the routes generate now', async (file) => {
    const generated = await readFile(path.join(out, file), 'utf8');
    const checkedIn = await readFile(path.join(CLIENT, file), 'utf8');
    if (generated !== checkedIn)
      throw new Error(
        `clients/typescript/${file} is out of date with the routes: run npm run client:generate`,
      );
    expect(generated).toContain('/v1/notifications');
  });
});
