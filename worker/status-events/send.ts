import { openEndpointUrl } from '../../activities/channels/webhook/endpoint-url';
import { postOnce, type WebhookAgents } from '../../activities/channels/webhook/post';
import { classifyResponse } from '../../activities/channels/webhook/responses';
import { signWebhook } from '../../activities/channels/webhook/signing';
import { openSecret, SecretBoxError } from '../../common/secret-box';
import { checkPublicUrl, type UrlPolicy } from '../../common/url-safety';
import { webhookIdOf, type ClaimedStatusEvent } from '../../db/queries/status-events';

export interface StatusEventSender {
  secretKey: Buffer;
  /** Checked again at every attempt: DNS may have changed since the endpoint was registered. */
  urlPolicy: UrlPolicy;
  agents: WebhookAgents;
  timeoutMs: number;
  userAgent?: string;
}

/** What one attempt came to. `final`: retrying cannot help (the URL is refused, a secret does not open). */
export interface SendResult {
  httpStatus: number | null;
  error: string | null;
  delivered: boolean;
  final: boolean;
  retryAfterMs?: number;
}

/**
 * One signed POST of an event, Standard Webhooks style: the event's own `webhook-id` (the same on
 * every attempt and replay), this attempt's `webhook-timestamp` (receivers refuse stale ones), and a
 * signature per secret during a rotation. The body is the stored event, byte for byte the same JSON.
 */
export async function sendStatusEvent(
  event: ClaimedStatusEvent,
  sender: StatusEventSender,
): Promise<SendResult> {
  const refuse = (error: string): SendResult => ({ httpStatus: null, error, delivered: false, final: true });
  let url: string;
  let secrets: string[];
  try {
    url = openEndpointUrl(event.storedUrl, sender.secretKey);
    secrets = event.sealedSecrets.map((sealed) => openSecret(sealed, sender.secretKey));
  } catch (error) {
    if (error instanceof SecretBoxError) return refuse(error.message);
    throw error;
  }
  if (secrets.length === 0) return refuse('endpoint has no signing secret');
  const check = await checkPublicUrl(url, sender.urlPolicy);
  if (!check.ok) return { ...refuse(`URL refused: ${check.reason}`), final: !check.temporary };

  const webhookId = webhookIdOf(event.eventId);
  const body = JSON.stringify(event.body);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': sender.userAgent ?? 'Herald-Events/0.1',
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(webhookId, timestamp, body, secrets),
  };
  try {
    const answer = await postOnce({
      url: check.url,
      addresses: check.addresses,
      headers,
      body,
      timeoutMs: sender.timeoutMs,
      agents: sender.agents,
    });
    const outcome = classifyResponse(answer);
    if (outcome.kind === 'success')
      return { httpStatus: answer.status, error: null, delivered: true, final: false };
    // Every other answer is retried (a receiver that answers 4xx today may be fixed tomorrow).
    return {
      httpStatus: answer.status,
      error: outcome.failure.reason,
      delivered: false,
      final: false,
      ...(outcome.failure.kind === 'transient' && outcome.failure.retryAfterMs
        ? { retryAfterMs: outcome.failure.retryAfterMs }
        : {}),
    };
  } catch (error) {
    return { httpStatus: null, error: networkError(error, sender.timeoutMs), delivered: false, final: false };
  }
}

function networkError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return `network error: ${e?.code ?? e?.cause?.code ?? e?.message ?? String(error)}`;
}
