import type { Pool } from 'pg';
import twilio from 'twilio';
import { openTwilioSettings, type TwilioSettings } from '../../../common/settings/twilio';
import { getTenantSetting, tenantSettingVersion } from '../../../db/queries/tenant-settings';
import { TwilioHttpClient } from './http-client';
import type { TwilioMessages } from './index';

/** A tenant's own Twilio account, ready to send. */
export interface TenantTwilioAccount {
  settings: TwilioSettings;
  client: TwilioMessages;
}

/** A tenant has its own settings, but this worker cannot use them (no key to open the token). */
export class TenantTwilioUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TenantTwilioUnavailableError';
  }
}

interface Entry extends TenantTwilioAccount {
  http: TwilioHttpClient;
}

export interface TenantTwilioAccountsOptions {
  db: Pool;
  /** Opens the sealed auth tokens (HERALD_SECRET_KEY); without it tenants with settings cannot send. */
  secretKey: Buffer | undefined;
  /** TWILIO_API_BASE_URL: the same override as the operator's account (a proxy, a test double). */
  apiBaseUrl: string | undefined;
  maxSockets: number;
  timeoutMs?: number;
  /** Tenants whose clients are kept; the least recently used is dropped beyond this. */
  maxTenants?: number;
}

/**
 * One Twilio client per tenant with its own settings, kept while the tenant's settings version is
 * unchanged: every send reads the version (one indexed row), so a change made through the API
 * reaches every worker before its next send, with no restart. Bounded, least recently used first out.
 */
export class TenantTwilioAccounts {
  /** Map order is use order: the first key is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private readonly retired = new Set<TwilioHttpClient>();
  private readonly timeoutMs: number;
  private readonly maxTenants: number;

  constructor(private readonly options: TenantTwilioAccountsOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxTenants = options.maxTenants ?? 100;
  }

  /** The tenant's own account, or null when it has none (the operator's is used). */
  async accountFor(tenantId: string): Promise<TenantTwilioAccount | null> {
    const { db, secretKey } = this.options;
    const version = await tenantSettingVersion(db, tenantId, 'twilio');
    const cached = this.entries.get(tenantId);
    if (cached && cached.settings.version === version) {
      this.entries.delete(tenantId);
      this.entries.set(tenantId, cached);
      return cached;
    }
    if (cached) this.drop(tenantId, cached);
    if (version === 0) return null;
    if (!secretKey)
      throw new TenantTwilioUnavailableError(
        "the tenant's own Twilio settings cannot be opened: HERALD_SECRET_KEY is not set on this worker",
      );
    const row = await getTenantSetting(db, tenantId, 'twilio');
    if (!row) return null; // deleted between the two reads
    const settings = openTwilioSettings(row, secretKey);
    const http = new TwilioHttpClient({
      apiBaseUrl: this.options.apiBaseUrl,
      timeoutMs: this.timeoutMs,
      maxSockets: this.options.maxSockets,
    });
    const entry: Entry = {
      settings,
      client: twilio(settings.accountSid, settings.authToken, { httpClient: http, autoRetry: false }),
      http,
    };
    const raced = this.entries.get(tenantId);
    if (raced) this.drop(tenantId, raced);
    this.entries.set(tenantId, entry);
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.maxTenants) break;
      this.drop(oldest, old);
    }
    return entry;
  }

  /** How many tenants' clients are kept (tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Closes every client's sockets (worker shutdown). */
  close(): void {
    for (const entry of this.entries.values()) entry.http.close();
    for (const http of this.retired) http.close();
    this.entries.clear();
    this.retired.clear();
  }

  /**
   * Forgets a client; its sockets are closed once any send still using it must have ended (its
   * timeout), not at once, which would cut that send off.
   */
  private drop(tenantId: string, entry: Entry): void {
    if (this.entries.get(tenantId) === entry) this.entries.delete(tenantId);
    this.retired.add(entry.http);
    setTimeout(() => {
      entry.http.close();
      this.retired.delete(entry.http);
    }, this.timeoutMs + 1_000).unref();
  }
}
