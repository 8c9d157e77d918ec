import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import webpush from 'web-push';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

export const DEV_VAPID_SUBJECT = 'mailto:dev@herald.local';

/**
 * The development VAPID key pair, generated on the first run into `<dataDir>/vapid.json` (readable by
 * its owner only) and reused after, so browsers subscribed in development keep working.
 */
export async function ensureDevVapidKeys(dataDir: string): Promise<VapidKeys> {
  const file = path.join(dataDir, 'vapid.json');
  const stored = await readKeys(file);
  if (stored) return { ...stored, subject: DEV_VAPID_SUBJECT };
  const keys = webpush.generateVAPIDKeys();
  try {
    // `wx`: if another process wrote the file meanwhile, theirs wins and is read below.
    await writeFile(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const theirs = await readKeys(file);
    if (!theirs) throw new Error(`${file} exists but holds no VAPID key pair`, { cause: error });
    return { ...theirs, subject: DEV_VAPID_SUBJECT };
  }
  return { ...keys, subject: DEV_VAPID_SUBJECT };
}

async function readKeys(file: string): Promise<{ publicKey: string; privateKey: string } | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const parsed = JSON.parse(text) as { publicKey?: unknown; privateKey?: unknown };
  if (typeof parsed.publicKey !== 'string' || typeof parsed.privateKey !== 'string')
    throw new Error(`${file} holds no VAPID key pair (publicKey, privateKey); delete it to make a new one`);
  return { publicKey: parsed.publicKey, privateKey: parsed.privateKey };
}
