import type { SendFailure } from '../types';

/** A receiver's `Retry-After` is honoured up to this; beyond it the channel's own backoff applies. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** Answers worth retrying later; those that name a time are retried no earlier than it. */
const RETRY_LATER = new Set([408, 429, 502, 503, 504]);

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined if absent, past or malformed. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** What the channel does with an HTTP answer. */
export type ResponseOutcome =
  { kind: 'success' } | { kind: 'gone'; failure: SendFailure } | { kind: 'failure'; failure: SendFailure };

export interface AnswerSummary {
  status: number;
  location: string | null;
  retryAfter: string | null;
  /** The first bytes of the answer's body, for the delivery log. */
  snippet: string;
}

/**
 * Only 2xx is success. Redirects are failures and never followed (the new location has not been
 * checked, and the receiver should register its real URL). 410: the receiver is gone for good.
 */
export function classifyResponse(answer: AnswerSummary, now: number = Date.now()): ResponseOutcome {
  const { status } = answer;
  const detail = answer.snippet ? `: ${answer.snippet}` : '';
  if (status >= 200 && status < 300) return { kind: 'success' };
  if (status >= 300 && status < 400) {
    const where = answer.location ? `to ${answer.location}` : '(no Location)';
    return {
      kind: 'failure',
      failure: { kind: 'permanent', reason: `HTTP ${status}: redirect ${where} not followed` },
    };
  }
  if (status === 410) {
    return {
      kind: 'gone',
      failure: { kind: 'permanent', reason: `HTTP 410 Gone: endpoint disabled${detail}` },
    };
  }
  if (RETRY_LATER.has(status)) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
    return {
      kind: 'failure',
      failure: {
        kind: 'transient',
        reason: `HTTP ${status}${retryAfterMs ? ` (retry after ${Math.ceil(retryAfterMs / 1000)} s)` : ''}${detail}`,
        ...(retryAfterMs ? { retryAfterMs } : {}),
      },
    };
  }
  if (status >= 500)
    return { kind: 'failure', failure: { kind: 'transient', reason: `HTTP ${status}${detail}` } };
  return { kind: 'failure', failure: { kind: 'permanent', reason: `HTTP ${status}${detail}` } };
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]+/g;

/** Header and body text from a receiver, made safe for one line of the delivery log. */
export const logSafe = (text: string, limit = 200): string =>
  text.replace(CONTROL_CHARACTERS, ' ').trim().slice(0, limit);
