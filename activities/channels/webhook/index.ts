import type { Pool } from 'pg';
import { checkPublicUrl, resolverFromSettings, type UrlPolicy } from '../../../common/url-safety';
import { openSecret, SECRET_KEY_VARIABLE, SecretBoxError, secretKeyIfSet } from '../../../common/secret-box';
import {
  disableWebhookEndpoint,
  getWebhookEndpoint,
  type WebhookEndpoint,
} from '../../../db/queries/webhook-endpoints';
import type { TemplateRegistry, RenderContext } from '../../../templates/registry';
import {
  offChannel,
  type Channel,
  type ChannelFactory,
  type DeliveryTarget,
  type SendFailure,
} from '../types';
import { openEndpointUrl } from './endpoint-url';
import { createWebhookAgents, postOnce, type WebhookAgents } from './post';
import { classifyResponse, logSafe, type AnswerSummary } from './responses';
import { signWebhook, webhookMessageId } from './signing';
import { renderTeamsCard, teamsMessage, type TeamsContent } from './teams';

/** What a webhook delivery renders: only the Slack and Teams presets use a template. */
export interface WebhookContent extends Partial<TeamsContent> {
  /** The SMS text, or the push title and body; null when the event has neither or it failed to render. */
  slackText: string | null;
  slackTextProblem: string | null;
}

/** The JSON body of a standard-preset webhook. */
export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: {
    notificationId: string;
    event: string;
    priority: string;
    recipient: { externalId: string; name: string | null } | null;
    data: Record<string, unknown>;
  };
}

/** A send that ended with an understood answer (or none); `failure` says whether to retry. */
export class WebhookDeliveryError extends Error {
  constructor(
    readonly failure: SendFailure,
    options?: { cause?: unknown },
  ) {
    super(failure.reason, options);
    this.name = 'WebhookDeliveryError';
  }
}

/** How a delivery names its endpoint (address, and recipient key of tenant-wide ones). */
const ENDPOINT_PREFIX = 'webhook:';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const permanent = (reason: string, cause?: unknown) =>
  new WebhookDeliveryError({ kind: 'permanent', reason }, { cause });
const transient = (reason: string, cause?: unknown) =>
  new WebhookDeliveryError({ kind: 'transient', reason }, { cause });

export interface WebhookChannelOptions {
  db: Pool;
  /** Opens the endpoints' sealed secrets (HERALD_SECRET_KEY). */
  secretKey: Buffer;
  /** The URL rules, checked again at every send (DNS may have changed since registration). */
  urlPolicy: UrlPolicy;
  /** Connection pools; their owner destroys them. */
  agents: WebhookAgents;
  timeoutMs?: number;
  concurrency?: number;
  userAgent?: string;
}

export function createWebhookChannel(options: WebhookChannelOptions): Channel<WebhookContent> {
  const { db, secretKey, urlPolicy, agents, timeoutMs = 10_000, userAgent = 'Herald-Webhooks/0.1' } = options;

  /**
   * The endpoint a delivery is addressed to: its address (and a tenant-wide one's recipient key) is
   * `webhook:<endpoint id>`, never the URL, which is a credential.
   */
  async function loadEndpoint(target: DeliveryTarget): Promise<WebhookEndpoint> {
    const ref = [target.address, target.recipientKey].find((k) => k.startsWith(ENDPOINT_PREFIX));
    const id = ref?.slice(ENDPOINT_PREFIX.length);
    const endpoint = id && UUID.test(id) ? await getWebhookEndpoint(db, target.tenantId, id) : null;
    if (!endpoint) throw permanent('endpoint no longer registered');
    if (endpoint.disabledAt)
      throw permanent(`endpoint disabled (${endpoint.disabledReason ?? 'by the API'})`);
    return endpoint;
  }

  function openUrl(endpoint: WebhookEndpoint): string {
    try {
      return openEndpointUrl(endpoint.storedUrl, secretKey);
    } catch (error) {
      if (error instanceof SecretBoxError) throw permanent(`endpoint URL: ${error.message}`, error);
      throw error;
    }
  }

  function buildRequest(
    target: DeliveryTarget,
    endpoint: WebhookEndpoint,
    content: WebhookContent,
    webhookId: string,
  ): { body: string; headers: Record<string, string> } {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': userAgent,
    };
    if (endpoint.preset === 'slack') {
      if (content.slackText === null)
        throw permanent(
          `no text for Slack: ${content.slackTextProblem ?? 'the event has no sms or push variant'}`,
        );
      return { body: JSON.stringify({ text: content.slackText }), headers };
    }
    if (endpoint.preset === 'teams') {
      if (!content.teamsCard)
        throw permanent(`no card for Teams: ${content.teamsCardProblem ?? 'nothing was rendered'}`);
      return { body: JSON.stringify(teamsMessage(content.teamsCard)), headers };
    }
    const now = new Date();
    const payload: WebhookPayload = {
      type: target.event,
      timestamp: now.toISOString(),
      data: {
        notificationId: target.notificationId,
        event: target.event,
        priority: target.priority,
        recipient: endpoint.externalId
          ? { externalId: endpoint.externalId, name: target.recipientName }
          : null,
        data: target.data,
      },
    };
    const body = JSON.stringify(payload);
    let secrets: string[];
    try {
      secrets = endpoint.sealedSecrets.map((sealed) => openSecret(sealed, secretKey));
    } catch (error) {
      if (error instanceof SecretBoxError) throw permanent(error.message, error);
      throw error;
    }
    if (secrets.length === 0) throw permanent('endpoint has no signing secret');
    const timestamp = Math.floor(now.getTime() / 1000);
    headers['webhook-id'] = webhookId;
    headers['webhook-timestamp'] = String(timestamp);
    headers['webhook-signature'] = signWebhook(webhookId, timestamp, body, secrets);
    return { body, headers };
  }

  return {
    name: 'webhook',
    concurrency: options.concurrency ?? 10,
    render: (templates, event, context) => ({
      ...renderSlackText(templates, event, context),
      ...renderTeamsCard(templates, event, context),
    }),
    async send(target, content) {
      const endpoint = await loadEndpoint(target);
      const check = await checkPublicUrl(openUrl(endpoint), urlPolicy);
      if (!check.ok) {
        const failure = `URL refused: ${check.reason}`;
        throw check.temporary ? transient(failure) : permanent(failure);
      }
      const webhookId = webhookMessageId(target.notificationId, target.recipientKey);
      const { body, headers } = buildRequest(target, endpoint, content, webhookId);

      let answer: AnswerSummary;
      try {
        answer = await postOnce({
          url: check.url,
          addresses: check.addresses,
          headers,
          body,
          timeoutMs,
          agents,
        });
      } catch (error) {
        throw transient(describeNetworkError(error, timeoutMs), error);
      }
      const outcome = classifyResponse({ ...answer, location: answer.location && logSafe(answer.location) });
      if (outcome.kind === 'success') return { providerMessageId: webhookId };
      if (outcome.kind === 'gone') {
        await disableWebhookEndpoint(
          db,
          endpoint.tenantId,
          endpoint.id,
          `answered 410 Gone at ${new Date().toISOString()}`,
        );
      }
      throw new WebhookDeliveryError(outcome.failure);
    },
    classify(error) {
      if (error instanceof WebhookDeliveryError) return error.failure;
      // Anything else (the database, a bug) may pass: let Temporal retry with backoff.
      return { kind: 'transient', reason: error instanceof Error ? error.message : String(error) };
    },
  };
}

/**
 * The Slack preset's text: the SMS variant, else the push title and body. Rendered for every webhook
 * delivery but only used by Slack endpoints, so a problem here is kept, not thrown.
 */
export function renderSlackText(
  templates: TemplateRegistry,
  event: string,
  context: RenderContext,
): WebhookContent {
  try {
    if (templates.supports(event, 'sms'))
      return { slackText: slackEscape(templates.renderSms(event, context)), slackTextProblem: null };
    if (templates.supports(event, 'push')) {
      const card = templates.renderPush(event, context);
      const lines = [`*${slackEscape(card.title)}*`, slackEscape(card.body)];
      if (card.url) lines.push(slackEscape(card.url));
      return { slackText: lines.join('\n'), slackTextProblem: null };
    }
    return { slackText: null, slackTextProblem: `${event} has no sms or push variant` };
  } catch (error) {
    return { slackText: null, slackTextProblem: error instanceof Error ? error.message : String(error) };
  }
}

/** Slack reads `<…>` as links and mentions (`<!channel>`): data must never be able to write one. */
const slackEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `network error: ${cause ? `${cause}` : (e?.message ?? String(error))}`;
}

/**
 * Webhooks from their settings (the worker configuration): `HERALD_SECRET_KEY` (required: it opens the endpoints' secrets),
 * `HERALD_ALLOW_LOOPBACK_URLS` (development), `WEBHOOK_TIMEOUT_MS`, `WEBHOOK_CONCURRENCY`.
 */
export const webhookChannelFactory: ChannelFactory = ({ settings, db }) => {
  const secretKey = secretKeyIfSet(settings);
  if (!secretKey) return offChannel('webhook', [SECRET_KEY_VARIABLE]);
  const allowLoopback = settings.HERALD_ALLOW_LOOPBACK_URLS === 'true';
  const timeoutMs = settings.WEBHOOK_TIMEOUT_MS;
  const concurrency = settings.WEBHOOK_CONCURRENCY;
  const agents = createWebhookAgents(concurrency);
  const channel = createWebhookChannel({
    agents,
    db,
    secretKey,
    urlPolicy: { allowLoopback, resolver: resolverFromSettings(settings) },
    timeoutMs,
    concurrency,
  });
  return {
    channel,
    report: `webhook: on (timeout ${timeoutMs} ms, ${concurrency} at once${allowLoopback ? ', loopback URLs allowed' : ''})`,
    close: () => agents.destroy(),
  };
};
