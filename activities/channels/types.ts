import type { Pool } from 'pg';
import type { ChannelName } from '../../common/types';
import type { RenderContext, TemplateRegistry } from '../../templates/registry';
import type { ChannelSettings } from './settings';

/**
 * How a failed send should be treated. `permanent`: retrying cannot help (bad address, rejected
 * content). `transient`: a later attempt may succeed (busy server, network); `retryAfterMs` is the
 * provider's own hint when it gave one. `skipped`: the channel is not configured on this worker.
 */
export interface SendFailure {
  kind: 'permanent' | 'transient' | 'skipped';
  reason: string;
  retryAfterMs?: number;
}

/** One delivery-log row as a channel sees it. */
export interface DeliveryTarget {
  deliveryId: string;
  notificationId: string;
  tenantId: string;
  event: string;
  priority: string;
  channel: ChannelName;
  /** externalId, or `email:<address>` / `phone:<number>` / `webhook:<endpoint id>` for raw targets. */
  recipientKey: string;
  externalId: string | null;
  address: string;
  recipientName: string | null;
  /** The notification's data, for channels that send it as it is (webhooks). */
  data: Record<string, unknown>;
  /** The signed one-click unsubscribe link (RFC 8058), for email that may be unsubscribed from. */
  unsubscribeUrl?: string;
}

export interface SendResult {
  providerMessageId: string;
}

/** One way of reaching people. A new channel is one folder implementing this. */
export interface Channel<TContent = unknown> {
  readonly name: ChannelName;
  /** How many sends may be in flight at once through this channel's transport. */
  readonly concurrency: number;
  render(templates: TemplateRegistry, event: string, context: RenderContext): TContent;
  send(target: DeliveryTarget, content: TContent): Promise<SendResult>;
  classify(error: unknown): SendFailure;
}

export type ChannelRegistry = { [K in ChannelName]: Channel };

/**
 * What a channel module gets to build itself: its slice of the worker's configuration (the one
 * source of every setting, HERALD_SECRET_KEY included) and the database.
 */
export interface ChannelContext {
  settings: ChannelSettings;
  db: Pool;
}

/** A built channel: on, or off with the reason (a missing setting), and how to release its resources. */
export interface ChannelBuild {
  channel: Channel;
  /** One line for the startup log, e.g. `email: on (smtp.example.com:587)` or `sms: off (TWILIO_AUTH_TOKEN is not set)`. */
  report: string;
  close(): void | Promise<void>;
}

export type ChannelFactory = (context: ChannelContext) => ChannelBuild;

/** The names of the variables in `required` that are not set. */
export const missingSettings = (settings: ChannelSettings, required: (keyof ChannelSettings)[]): string[] =>
  required.filter((name) => !settings[name]);

/** A channel that is off because settings are missing: its deliveries end `skipped` with the reason. */
export function offChannel(name: ChannelName, missing: string[]): ChannelBuild {
  return {
    channel: unconfiguredChannel(name, missing),
    report: `${name}: off (${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set)`,
    close: () => undefined,
  };
}

/** Raised by a channel whose settings are missing; the delivery ends `skipped`, never crashes. */
export class ChannelNotConfiguredError extends Error {
  constructor(
    readonly channel: string,
    readonly missing: string[],
  ) {
    super(`channel not configured: ${missing.join(', ')} not set`);
    this.name = 'ChannelNotConfiguredError';
  }
}

/** Stands in for a channel whose settings are missing, so its deliveries are recorded as skipped. */
export function unconfiguredChannel(name: Channel['name'], missing: string[]): Channel {
  return {
    name,
    concurrency: 1,
    render: () => undefined,
    send: async () => {
      throw new ChannelNotConfiguredError(name, missing);
    },
    classify: (error) => ({
      kind: 'skipped',
      reason: error instanceof Error ? error.message : String(error),
    }),
  };
}
