import type { ChannelName } from '../../common/types';
import type { RenderContext, TemplateRegistry } from '../../templates/registry';

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
  recipientKey: string;
  address: string;
  recipientName: string | null;
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
