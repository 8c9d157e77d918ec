import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Pool } from 'pg';
import webpush, { type Urgency } from 'web-push';
import type { Priority } from '../../../common/types';
import {
  checkPublicUrl,
  pinnedLookup,
  resolverFromSettings,
  type UrlPolicy,
} from '../../../common/url-safety';
import {
  deletePushSubscription,
  listPushSubscriptions,
  markPushSubscriptionsUsed,
  type PushSubscription,
} from '../../../db/queries/push-subscriptions';
import type { RenderedCard } from '../../../templates/registry';
import {
  missingSettings,
  offChannel,
  type Channel,
  type ChannelFactory,
  type DeliveryTarget,
  type SendFailure,
} from '../types';

/**
 * The largest plaintext a push message may carry: 4096 bytes of aes128gcm body (RFC 8030 §7.2) less
 * the 86-byte header, the padding delimiter and the 16-byte tag (RFC 8291 §4).
 */
export const PUSH_MAX_PAYLOAD_BYTES = 3993;

/**
 * How long a push service keeps a message for a device that is offline (the `TTL` header, seconds):
 * news about critical and high-priority events is worth a day, a normal one half a day, a low one
 * four hours; after that the device never shows it.
 */
export const PUSH_TTL_SECONDS = {
  critical: 24 * 3600,
  high: 24 * 3600,
  normal: 12 * 3600,
  low: 4 * 3600,
} satisfies Record<Priority, number>;

/** The `Urgency` header (RFC 8030 §5.3): how hard the device should try, e.g. on battery. */
export const PUSH_URGENCY = {
  critical: 'high',
  high: 'high',
  normal: 'normal',
  low: 'low',
} satisfies Record<Priority, Urgency>;

/** A push service's answer is read up to this size (it is only kept for error messages). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** A provider's Retry-After is honoured up to this long; beyond it the retry policy takes over. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** What the service worker receives (JSON): the rendered card and a tag that replaces, never stacks. */
export interface PushPayload {
  title: string;
  body: string;
  url: string | null;
  /** The delivery key `${notificationId}:${recipientKey}`, for `showNotification({ tag })`. */
  tag: string;
}

export interface VapidDetails {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/**
 * The `Topic` header (RFC 8030 §5.4) of a delivery: the push service keeps only the newest message of
 * a topic for an offline device, so a second copy of a delivery (a retry after a crash) replaces the
 * first. At most 32 base64url characters: the first 192 bits of SHA-256 of the delivery key.
 */
export function pushTopic(deliveryKey: string): string {
  return createHash('sha256').update(deliveryKey).digest('base64url').slice(0, 32);
}

/** Raised by `send`: how the delivery failed, already classified. */
export class PushSendError extends Error {
  constructor(readonly failure: SendFailure) {
    super(failure.reason);
    this.name = 'PushSendError';
  }
}

/** Seconds or an HTTP date (RFC 9110 §10.2.3) → milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** What became of the message for one subscription. */
type Outcome =
  | { kind: 'accepted'; subscriptionId: string; messageId: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'transient'; reason: string; retryAfterMs?: number };

/** The push service's answer, or why the endpoint was not posted to. */
type PostResult =
  | { kind: 'answered'; status: number; headers: IncomingHttpHeaders; body: string }
  | { kind: 'refused'; reason: string; temporary: boolean };

export interface PushChannelOptions {
  db: Pool;
  vapid: VapidDetails;
  urlPolicy: UrlPolicy;
  timeoutMs: number;
  concurrency: number;
  agents: { http: http.Agent; https: https.Agent };
}

/**
 * Web push: every subscription of the recipient, read at send time, gets the message encrypted for it
 * (aes128gcm) and signed with the VAPID key. Endpoints are checked again before each post (DNS may
 * have changed since the subscription), the connection goes only to the checked addresses, and
 * redirects are never followed. The delivery succeeds when at least one push service accepts it.
 */
export function createPushChannel(options: PushChannelOptions): Channel<RenderedCard> {
  const { db, vapid, urlPolicy, timeoutMs, agents } = options;

  /** Checks the endpoint again, then posts to exactly the addresses the check approved. */
  async function post(
    endpoint: string,
    headers: Record<string, string | number>,
    body: Buffer | null,
  ): Promise<PostResult> {
    const check = await checkPublicUrl(endpoint, urlPolicy);
    if (!check.ok) return { kind: 'refused', reason: check.reason, temporary: check.temporary ?? false };
    const { url } = check;
    const secure = url.protocol === 'https:';
    return new Promise<PostResult>((resolve, reject) => {
      const request = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port || (secure ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          headers,
          agent: secure ? agents.https : agents.http,
          // The connection may only go to an address checkPublicUrl has just approved.
          lookup: pinnedLookup(check.addresses),
          timeout: timeoutMs,
        },
        (response) => {
          // Keep a little of the answer for the error message; push services answer in a few bytes.
          let text = '';
          let bytes = 0;
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (text.length < 500) text += chunk;
            bytes += chunk.length;
            if (bytes > MAX_ANSWER_BYTES)
              response.destroy(new Error(`push service answer larger than ${MAX_ANSWER_BYTES} bytes`));
          });
          response.on('error', reject);
          response.on('end', () =>
            resolve({
              kind: 'answered',
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: text.slice(0, 500).replace(/\s+/g, ' ').trim(),
            }),
          );
        },
      );
      request.on('timeout', () =>
        request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      request.on('error', reject);
      request.end(body ?? undefined);
    });
  }

  async function deliverTo(
    subscription: PushSubscription,
    target: DeliveryTarget,
    payload: string,
  ): Promise<Outcome> {
    const priority = (target.priority in PUSH_TTL_SECONDS ? target.priority : 'normal') as Priority;
    let details: webpush.RequestDetails;
    try {
      details = webpush.generateRequestDetails(
        { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
        payload,
        {
          vapidDetails: vapid,
          contentEncoding: 'aes128gcm',
          TTL: PUSH_TTL_SECONDS[priority],
          urgency: PUSH_URGENCY[priority],
          topic: pushTopic(`${target.notificationId}:${target.recipientKey}`),
        },
      );
    } catch (error) {
      // Keys that cannot encrypt (the API checks them, but rows may predate the check).
      return { kind: 'refused', reason: `subscription unusable: ${(error as Error).message}` };
    }
    let answer: PostResult;
    try {
      answer = await post(subscription.endpoint, details.headers, details.body);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      return {
        kind: 'transient',
        reason: `push service unreachable: ${e.code ? `${e.code} ` : ''}${e.message}`,
      };
    }
    if (answer.kind === 'refused') {
      return answer.temporary
        ? { kind: 'transient', reason: `endpoint not checked: ${answer.reason}` }
        : { kind: 'refused', reason: `endpoint refused: ${answer.reason}` };
    }
    const { status, headers, body } = answer;
    const said = `push service answered ${status}${body ? ` (${body.slice(0, 200)})` : ''}`;
    if (status >= 200 && status < 300) {
      const location = typeof headers.location === 'string' ? headers.location : undefined;
      return { kind: 'accepted', subscriptionId: subscription.id, messageId: location ?? `HTTP ${status}` };
    }
    if (status === 404 || status === 410) {
      // The browser unsubscribed or the subscription expired: it will never work again.
      await deletePushSubscription(db, target.tenantId, subscription.id);
      return { kind: 'refused', reason: `${said}; subscription removed` };
    }
    if (status === 429 || status >= 500) {
      const retryAfter = headers['retry-after'];
      return {
        kind: 'transient',
        reason: said,
        retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
      };
    }
    if (status >= 300 && status < 400) {
      return {
        kind: 'refused',
        reason: `${said}: redirect to ${headers.location ?? '(nowhere)'} not followed`,
      };
    }
    return { kind: 'refused', reason: said };
  }

  return {
    name: 'push',
    concurrency: options.concurrency,
    render: (templates, event, context) => templates.renderPush(event, context),
    async send(target: DeliveryTarget, content: RenderedCard) {
      if (!target.externalId)
        throw new PushSendError({
          kind: 'permanent',
          reason: 'web push needs a recipient, not a raw address',
        });
      const payload: PushPayload = {
        title: content.title,
        body: content.body,
        url: content.url,
        tag: `${target.notificationId}:${target.recipientKey}`,
      };
      const text = JSON.stringify(payload);
      const size = Buffer.byteLength(text);
      if (size > PUSH_MAX_PAYLOAD_BYTES)
        throw new PushSendError({
          kind: 'permanent',
          reason: `push payload is ${size} bytes, more than the ${PUSH_MAX_PAYLOAD_BYTES} a push message can carry`,
        });

      const subscriptions = await listPushSubscriptions(db, target.tenantId, target.externalId);
      if (subscriptions.length === 0)
        throw new PushSendError({ kind: 'permanent', reason: 'no push subscription' });
      const outcomes = await Promise.all(subscriptions.map((s) => deliverTo(s, target, text)));

      const accepted = outcomes.filter((o) => o.kind === 'accepted');
      if (accepted.length > 0) {
        await markPushSubscriptionsUsed(
          db,
          target.tenantId,
          accepted.map((o) => o.subscriptionId),
        );
        return { providerMessageId: accepted[0]!.messageId };
      }
      const transient = outcomes.filter((o) => o.kind === 'transient');
      const reason = outcomes.map((o) => (o.kind === 'accepted' ? '' : o.reason)).join('; ');
      if (transient.length > 0) {
        const hints = transient.flatMap((o) => (o.retryAfterMs === undefined ? [] : [o.retryAfterMs]));
        throw new PushSendError({
          kind: 'transient',
          reason,
          retryAfterMs: hints.length > 0 ? Math.max(...hints) : undefined,
        });
      }
      throw new PushSendError({ kind: 'permanent', reason });
    },
    classify(error: unknown): SendFailure {
      if (error instanceof PushSendError) return error.failure;
      // Anything else (the database, say) may well work on the next attempt.
      return { kind: 'transient', reason: error instanceof Error ? error.message : String(error) };
    },
  };
}

/**
 * Web push from its settings (the worker configuration): `VAPID_PUBLIC_KEY`, `VAPID_PRIVATE_KEY`, `VAPID_SUBJECT` (all
 * required), `HERALD_ALLOW_LOOPBACK_URLS` (development), `HERALD_DNS_SERVERS`, `PUSH_TIMEOUT_MS`,
 * `PUSH_CONCURRENCY`.
 */
export const pushChannelFactory: ChannelFactory = ({ settings, db }) => {
  const missing = missingSettings(settings, ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT']);
  if (missing.length > 0) return offChannel('push', missing);
  const allowLoopback = settings.HERALD_ALLOW_LOOPBACK_URLS === 'true';
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  return {
    channel: createPushChannel({
      db,
      vapid: {
        publicKey: settings.VAPID_PUBLIC_KEY!,
        privateKey: settings.VAPID_PRIVATE_KEY!,
        subject: settings.VAPID_SUBJECT!,
      },
      urlPolicy: { allowLoopback, resolver: resolverFromSettings(settings) },
      timeoutMs: settings.PUSH_TIMEOUT_MS,
      concurrency: settings.PUSH_CONCURRENCY,
      agents,
    }),
    report: `push: on (VAPID ${settings.VAPID_SUBJECT}${allowLoopback ? ', loopback endpoints allowed' : ''})`,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
};
