import type { DeliverySettings, Me, PreferenceMatrix, PreferencesDocument } from './types';

/** A refused request: the status and our JSON error's code and message (or the HTTP status). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The routes the center uses, as the person's end-user token sees them; same origin as the page. */
export class CenterApi {
  private person: string | null = null;

  constructor(
    private readonly token: string,
    private readonly base = location.origin,
  ) {}

  /** Learns whose token this is (GET /v1/me); every other call is about that person. */
  async me(): Promise<Me> {
    const me = await this.request<Me>('GET', '/v1/me');
    this.person = me.externalId;
    return me;
  }

  preferences(): Promise<PreferencesDocument> {
    return this.request('GET', this.own('/preferences'));
  }

  putPreferences(document: PreferencesDocument): Promise<PreferencesDocument> {
    return this.request('PUT', this.own('/preferences'), document);
  }

  matrix(): Promise<PreferenceMatrix> {
    return this.request('GET', this.own('/preferences/matrix'));
  }

  deliverySettings(): Promise<DeliverySettings> {
    return this.request('GET', this.own('/delivery-settings'));
  }

  patchDeliverySettings(change: Partial<DeliverySettings>): Promise<DeliverySettings> {
    return this.request('PATCH', this.own('/delivery-settings'), change);
  }

  async pushPublicKey(): Promise<string> {
    return (await this.request<{ publicKey: string }>('GET', '/v1/push/public-key')).publicKey;
  }

  subscribePush(subscription: PushSubscriptionJSON): Promise<unknown> {
    return this.request('POST', this.own('/push-subscriptions'), {
      ...subscription,
      userAgent: navigator.userAgent.slice(0, 512),
    });
  }

  async unsubscribePush(endpoint: string): Promise<void> {
    await this.request('DELETE', this.own('/push-subscriptions'), { endpoint });
  }

  private own(suffix: string): string {
    if (this.person === null) throw new Error('call me() first');
    return `/v1/recipients/${encodeURIComponent(this.person)}${suffix}`;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, 'network', 'The notification service cannot be reached. Check your connection.');
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: the status says enough
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      throw new ApiError(
        response.status,
        typeof error?.code === 'string' ? error.code : 'http_error',
        typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`,
      );
    }
    return parsed as T;
  }
}
