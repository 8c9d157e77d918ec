import http from 'node:http';
import https from 'node:https';
import { pinnedLookup } from '../../../common/url-safety';
import { logSafe, type AnswerSummary } from './responses';

/** Keep-alive connection pools for webhook sends; one pair per channel, destroyed when it closes. */
export interface WebhookAgents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

export function createWebhookAgents(maxSockets: number): WebhookAgents {
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets }),
  };
  return {
    ...agents,
    destroy: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export interface PostRequest {
  url: URL;
  /** The addresses `checkPublicUrl` approved: the connection goes to one of them, whatever DNS says now. */
  addresses: string[];
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  agents: WebhookAgents;
  /** How much of an answer's body to keep for the delivery log. */
  snippetBytes?: number;
}

/**
 * One POST, never following a redirect (node:http does not), within `timeoutMs` from the first byte
 * sent to the last byte read. Rejects only when no answer arrived (network error, timeout).
 */
export function postOnce(request: PostRequest): Promise<AnswerSummary> {
  const { url, body, timeoutMs, snippetBytes = 200 } = request;
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinnedLookup(request.addresses),
        agent: secure ? request.agents.https : request.agents.http,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const success = status >= 200 && status < 300;
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const settle = () => {
          if (settled) return;
          settled = true;
          const text = Buffer.concat(chunks).subarray(0, snippetBytes).toString('utf8');
          resolve({
            status,
            location: headerValue(res.headers.location),
            retryAfter: headerValue(res.headers['retry-after']),
            snippet: success ? '' : logSafe(text, snippetBytes),
          });
        };
        res.on('data', (chunk: Buffer) => {
          if (success || size >= snippetBytes) return;
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', settle);
        // The status has arrived: a body that breaks off (or times out) does not change what it says.
        res.on('error', settle);
        res.on('close', settle);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const headerValue = (value: string | string[] | undefined): string | null =>
  value === undefined ? null : Array.isArray(value) ? (value[0] ?? null) : value;
