import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { openSecret, SECRET_KEY_VARIABLE, SecretBoxError } from '../../../common/secret-box';
import {
  checkSmtpHost,
  parseStoredSmtpConfig,
  smtpSender,
  smtpTransportOptions,
  type Mailbox,
} from '../../../common/settings/smtp';
import type { UrlPolicy } from '../../../common/url-safety';
import type { Queryable } from '../../../db/queries/recipients';
import { getTenantSetting, tenantSettingVersion } from '../../../db/queries/tenant-settings';

/** Where one tenant's mail goes: its own pooled transport and sender. */
export interface TenantSmtp {
  transport: Transporter;
  from: Mailbox;
  replyTo?: Mailbox;
}

/** A tenant transport in use by one send; `release` when the send is over. */
export interface TenantSmtpLease {
  smtp: TenantSmtp;
  release(): void;
}

/**
 * The tenant's settings cannot be used (a host Herald may not reach, a password it cannot open): the
 * delivery ends with `kind` and this message, never with the operator's server instead.
 */
export class TenantSmtpError extends Error {
  constructor(
    readonly kind: 'permanent' | 'transient' | 'skipped',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TenantSmtpError';
  }
}

export interface TenantTransportsOptions {
  db: Queryable;
  /** Opens the sealed passwords; without it a tenant with a password cannot send (skipped, saying why). */
  secretKey?: Buffer;
  /** Most tenant transports kept open; the least recently used is closed beyond it. */
  max: number;
  /** Connections per tenant transport. */
  maxConnections: number;
  urlPolicy: UrlPolicy;
  /** How long one notification's sends trust a version read (default 1 s). */
  versionTtlMs?: number;
  /** A transport older than this is rebuilt, so its host is resolved and checked again (default 10 min). */
  maxAgeMs?: number;
  now?: () => number;
  createTransport?: (options: SMTPPool.Options) => Transporter;
}

interface Entry {
  tenantId: string;
  version: number;
  smtp: TenantSmtp;
  builtAt: number;
  inUse: number;
  retired: boolean;
}

/**
 * One pooled transport per tenant with SMTP settings, at most `max` (least recently used closed).
 * Before each send the tenant's settings version is read (once per notification and second at
 * most), so a change made while the worker runs is used from the next notification on: a transport
 * built from an older version is retired and closed once its sends are done.
 */
export class TenantTransports {
  private readonly entries = new Map<string, Entry>(); // insertion order = least recently used first
  private readonly versions = new Map<string, { version: Promise<number>; at: number }>();
  private readonly building = new Map<string, Promise<Entry | null>>();
  private readonly versionTtlMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly create: (options: SMTPPool.Options) => Transporter;

  constructor(private readonly options: TenantTransportsOptions) {
    this.versionTtlMs = options.versionTtlMs ?? 1_000;
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.create = options.createTransport ?? ((o) => nodemailer.createTransport(o));
  }

  /** How many tenant transports are open. */
  get size(): number {
    return this.entries.size;
  }

  /** The tenant's transport for a send of this notification; null when the tenant has no settings. */
  async acquire(tenantId: string, notificationId: string): Promise<TenantSmtpLease | null> {
    const version = await this.version(tenantId, notificationId);
    // Bounded: a replaced or evicted transport is looked up again, but not forever.
    for (let round = 0; round < 3; round++) {
      const cached = this.entries.get(tenantId);
      if (version === 0) {
        if (cached) this.retire(cached);
        return null;
      }
      let entry: Entry | null | undefined = cached;
      if (!entry || entry.version < version || this.now() - entry.builtAt >= this.maxAgeMs) {
        entry = await this.build(tenantId, version);
        if (!entry) return null;
        // A newer build replaced it while this send waited: take that one.
        if (entry.retired) continue;
      }
      return this.lease(entry);
    }
    throw new TenantSmtpError('transient', `the SMTP transport of tenant ${tenantId} kept being replaced`);
  }

  private lease(entry: Entry): TenantSmtpLease {
    // Most recently used last.
    this.entries.delete(entry.tenantId);
    this.entries.set(entry.tenantId, entry);
    entry.inUse++;
    let released = false;
    return {
      smtp: entry.smtp,
      release: () => {
        if (released) return;
        released = true;
        entry.inUse--;
        if (entry.retired && entry.inUse === 0) entry.smtp.transport.close();
      },
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.building.values()]);
    for (const entry of [...this.entries.values()]) {
      this.entries.delete(entry.tenantId);
      entry.retired = true;
      entry.smtp.transport.close();
    }
  }

  /** The settings version, read at most once per notification and `versionTtlMs`. */
  private version(tenantId: string, notificationId: string): Promise<number> {
    const key = `${tenantId}\u0000${notificationId}`;
    const now = this.now();
    const memo = this.versions.get(key);
    if (memo && now - memo.at < this.versionTtlMs) return memo.version;
    if (this.versions.size > 1000)
      for (const [k, v] of this.versions) if (now - v.at >= this.versionTtlMs) this.versions.delete(k);
    const version = tenantSettingVersion(this.options.db, tenantId, 'smtp');
    this.versions.set(key, { version, at: now });
    version.catch(() => this.versions.delete(key));
    return version;
  }

  /** Builds the tenant's transport once however many sends ask at the same time. */
  private async build(tenantId: string, atLeast: number): Promise<Entry | null> {
    const pending = this.building.get(tenantId);
    if (pending) {
      const built = await pending.catch(() => null);
      if (built && built.version >= atLeast && !built.retired) return built;
    }
    const building = this.load(tenantId).finally(() => {
      if (this.building.get(tenantId) === building) this.building.delete(tenantId);
    });
    this.building.set(tenantId, building);
    return building;
  }

  private async load(tenantId: string): Promise<Entry | null> {
    const row = await getTenantSetting(this.options.db, tenantId, 'smtp');
    if (!row) {
      const stale = this.entries.get(tenantId);
      if (stale) this.retire(stale);
      return null;
    }
    let config;
    try {
      config = parseStoredSmtpConfig(tenantId, row.config);
    } catch (error) {
      throw new TenantSmtpError('permanent', (error as Error).message, { cause: error });
    }
    let password: string | null = null;
    if (row.sealedSecret !== null) {
      if (!this.options.secretKey)
        throw new TenantSmtpError(
          'skipped',
          `tenant SMTP settings need ${SECRET_KEY_VARIABLE} on the worker to open their password; it is not set`,
        );
      try {
        password = openSecret(row.sealedSecret, this.options.secretKey);
      } catch (error) {
        if (!(error instanceof SecretBoxError)) throw error;
        throw new TenantSmtpError('permanent', `tenant SMTP password: ${error.message}`, { cause: error });
      }
    }
    const host = await checkSmtpHost(config, this.options.urlPolicy);
    if (!host.ok)
      throw new TenantSmtpError(
        host.temporary ? 'transient' : 'permanent',
        `tenant SMTP host ${config.host}: ${host.reason}`,
      );
    const transport = this.create({
      ...smtpTransportOptions(config, password, { address: host.address }),
      pool: true,
      maxConnections: this.options.maxConnections,
      maxMessages: 1000,
    });
    const entry: Entry = {
      tenantId,
      version: row.version,
      smtp: { transport, ...smtpSender(config) },
      builtAt: this.now(),
      inUse: 0,
      retired: false,
    };
    const current = this.entries.get(tenantId);
    if (current) this.retire(current);
    this.entries.set(tenantId, entry);
    for (const oldest of this.entries.values()) {
      if (this.entries.size <= this.options.max) break;
      this.retire(oldest);
    }
    return entry;
  }

  /** Out of the cache; closed now, or when its last send is over. */
  private retire(entry: Entry): void {
    if (this.entries.get(entry.tenantId) === entry) this.entries.delete(entry.tenantId);
    if (entry.retired) return;
    entry.retired = true;
    if (entry.inUse === 0) entry.smtp.transport.close();
  }
}
