import { createLogger } from '../../common/logger';
import webpush from 'web-push';
import { buildChannels } from '../../activities/channels/registry';
import { loadApiConfig } from '../../api/config';
import { loadWorkerConfig } from '../../worker/config';

const base = { DATABASE_URL: 'postgres://x' };

/** The message `load` throws, '' when it does not. */
const errorOf = (load: () => unknown): string => {
  try {
    load();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
};

describe("the worker's one configuration, channels included", () => {
  it('stops at start naming every bad channel setting at once', () => {
    const bad = {
      ...base,
      SMTP_MAX_CONNECTIONS: '0',
      WEBHOOK_TIMEOUT_MS: 'soon',
      TWILIO_ACCOUNT_SID: 'XX123',
      TWILIO_MAX_CONCURRENCY: '1.5',
      PUSH_CONCURRENCY: '500',
      TWILIO_API_BASE_URL: 'not a url',
    };
    const message = errorOf(() => loadWorkerConfig(bad));
    expect(message).toMatch(/^invalid worker configuration:/);
    for (const name of Object.keys(bad).filter((k) => k !== 'DATABASE_URL'))
      expect(message).toContain(`  ${name}: `);
    expect(message).toContain('TWILIO_ACCOUNT_SID: must start with AC');
  });

  it('checks the VAPID keys as a pair, and one malformed key even when the others are unset', () => {
    const pair = webpush.generateVAPIDKeys();
    const other = webpush.generateVAPIDKeys();
    expect(() =>
      loadWorkerConfig({
        ...base,
        VAPID_PUBLIC_KEY: pair.publicKey,
        VAPID_PRIVATE_KEY: other.privateKey,
        VAPID_SUBJECT: 'mailto:ops@example.com',
      }),
    ).toThrow(/VAPID_PRIVATE_KEY: is not the private half of VAPID_PUBLIC_KEY/);
    expect(() => loadWorkerConfig({ ...base, VAPID_PUBLIC_KEY: 'abc' })).toThrow(/VAPID_PUBLIC_KEY: must/);
  });

  it('reads an empty value as unset, and gives the channels typed defaults', () => {
    const config = loadWorkerConfig({ ...base, SMTP_URL: '', TWILIO_FROM: '', HERALD_SECRET_KEY: '' });
    expect(config).toMatchObject({
      SMTP_MAX_CONNECTIONS: 5,
      SMTP_TENANT_TRANSPORTS_MAX: 50,
      MAIL_FROM: 'Herald <noreply@herald.local>',
      PUSH_TIMEOUT_MS: 10_000,
      TWILIO_MAX_CONCURRENCY: 5,
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_CONCURRENCY: 10,
    });
    expect(config.SMTP_URL).toBeUndefined();
    expect(config.TWILIO_FROM).toBeUndefined();
    expect(config.HERALD_SECRET_KEY).toBeUndefined();
  });

  it('is what the channels are built from: the parsed numbers reach them', async () => {
    const config = loadWorkerConfig({
      ...base,
      SMTP_URL: 'smtp://127.0.0.1:2525?tls=off',
      SMTP_MAX_CONNECTIONS: '7',
      TWILIO_ACCOUNT_SID: 'AC0123',
      TWILIO_AUTH_TOKEN: 'token',
      TWILIO_FROM: '+15550001111',
      TWILIO_MAX_CONCURRENCY: '3',
    });
    const setup = buildChannels({ settings: config, db: {} as never });
    try {
      expect(setup.channels.email.concurrency).toBe(7);
      expect(setup.channels.sms.concurrency).toBe(3);
      expect(setup.report).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^email: on \(127\.0\.0\.1:2525, 7 pooled connections/),
          expect.stringMatching(/^sms: on \(from \+15550001111/),
          'push: off (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT are not set)',
          'webhook: off (HERALD_SECRET_KEY is not set)',
        ]),
      );
    } finally {
      await setup.close();
    }
  });
});

describe("the worker's log level", () => {
  it('comes from its config (WARN unless set) and reaches the JSON logger in any case', () => {
    const config = loadWorkerConfig(base);
    expect(config.LOG_LEVEL).toBe('WARN');
    expect(createLogger('worker', config.LOG_LEVEL).level).toBe('warn');
    expect(createLogger('worker', loadWorkerConfig({ ...base, LOG_LEVEL: 'DEBUG' }).LOG_LEVEL).level).toBe(
      'debug',
    );
    expect(createLogger('worker', 'silent').level).toBe('silent');
    expect(createLogger('worker', 'loud').level).toBe('info');
  });
});

describe('the variables the API and the worker both read', () => {
  it('are refused by both processes alike, each naming every bad one', () => {
    const bad = {
      ...base,
      PUBLIC_BASE_URL: 'herald.example.com',
      HERALD_SECRET_KEY: 'short',
      HERALD_ALLOW_LOOPBACK_URLS: 'yes',
      TENANT_SMTP_REQUIRED: '1',
      TWILIO_API_BASE_URL: 'not a url',
      VAPID_PUBLIC_KEY: webpush.generateVAPIDKeys().privateKey,
    };
    const api = errorOf(() => loadApiConfig(bad));
    const worker = errorOf(() => loadWorkerConfig(bad));
    expect(api).toMatch(/^invalid API configuration:/);
    expect(worker).toMatch(/^invalid worker configuration:/);
    // The same line for each variable: one rule, read by both.
    const lines = (message: string) => message.split('\n').slice(1).sort();
    expect(lines(api)).toEqual(lines(worker));
    for (const name of Object.keys(bad).filter((k) => k !== 'DATABASE_URL')) {
      expect(api).toContain(`  ${name}: `);
    }
    // Before the API shared the worker's rule, it served a malformed VAPID key to browsers.
    expect(api).toContain('VAPID_PUBLIC_KEY: must decode to 65 bytes');
  });

  it('take an empty value as unset in both', () => {
    const blank = {
      ...base,
      PUBLIC_BASE_URL: '',
      HERALD_SECRET_KEY: '',
      HERALD_DNS_SERVERS: '',
      TWILIO_AUTH_TOKEN: '',
      TWILIO_API_BASE_URL: '',
      VAPID_PUBLIC_KEY: '',
    };
    const api = loadApiConfig(blank);
    const worker = loadWorkerConfig(blank);
    for (const name of Object.keys(blank).filter((k) => k !== 'DATABASE_URL')) {
      expect(api[name as keyof typeof api]).toBeUndefined();
      expect(worker[name as keyof typeof worker]).toBeUndefined();
    }
    expect([api.HERALD_ALLOW_LOOPBACK_URLS, worker.HERALD_ALLOW_LOOPBACK_URLS]).toEqual(['false', 'false']);
  });
});
