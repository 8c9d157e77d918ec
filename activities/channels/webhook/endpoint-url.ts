import type { Pool } from 'pg';
import {
  isCurrentlySealed,
  isSealed,
  openSecret,
  sealSecret,
  SecretBoxError,
} from '../../../common/secret-box';
import { listEndpointsToReseal, resealWebhookEndpoint } from '../../../db/queries/webhook-endpoints';

/**
 * A webhook URL is a credential (a Slack incoming-webhook URL is all it takes to post to a channel;
 * other receivers put tokens in the path or query). It is sealed at rest like the signing secrets,
 * opened only to send, shown masked, and never written to the delivery log.
 */

/** A path segment shown in a masked URL: a short lower-case word (`services`, `hooks`), never a token. */
const PLAIN_WORD = /^[a-z][a-z-]{0,15}$/;

/**
 * What the API shows of a URL: scheme, host and port, at most the first path segment when it is a
 * plain word, then `/****` for anything else (the rest of the path, the query).
 * `https://hooks.slack.com/services/T0/B0/XXXX` → `https://hooks.slack.com/services/****`.
 */
export function maskWebhookUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '****';
  }
  const origin = `${parsed.protocol}//${parsed.host}`;
  const [first, ...rest] = parsed.pathname.split('/').filter(Boolean);
  const shown = first !== undefined && PLAIN_WORD.test(first) ? `/${first}` : '';
  const hidden = rest.length > 0 || parsed.search !== '' || (first !== undefined && shown === '');
  return hidden ? `${origin}${shown}/****` : `${origin}${shown || '/'}`;
}

/** The URL to send to, from its stored form: sealed, or plain text for rows written before sealing. */
export function openEndpointUrl(stored: string, masterKey: Buffer): string {
  return isSealed(stored) ? openSecret(stored, masterKey) : stored;
}

export const sealEndpointUrl = (url: string, masterKey: Buffer): string => sealSecret(url, masterKey);

/**
 * Re-seals, under the current key, every endpoint stored the old way: a plain-text URL, or values
 * sealed under the raw HERALD_SECRET_KEY. Run by the worker at start; returns how many it changed.
 * A value that does not open (another key) is left as it is: its sends fail saying so.
 */
export async function resealWebhookEndpoints(db: Pool, masterKey: Buffer): Promise<number> {
  let changed = 0;
  for (const row of await listEndpointsToReseal(db)) {
    try {
      const url = isCurrentlySealed(row.url)
        ? row.url
        : sealEndpointUrl(openEndpointUrl(row.url, masterKey), masterKey);
      const secrets = row.secrets.map((s) =>
        isCurrentlySealed(s) ? s : sealSecret(openSecret(s, masterKey), masterKey),
      );
      // Only if nobody changed the row meanwhile (a rotation, say): the next start tries again.
      if (await resealWebhookEndpoint(db, row, { url, secrets })) changed++;
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
    }
  }
  return changed;
}
