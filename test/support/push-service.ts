/** A loopback web push service and browser-side helpers that check RFC 8291/8292 on the wire. */
import { createECDH, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import webpush from 'web-push';

// http_ece ships no types: the one function the test needs.
const ece = createRequire(__filename)('http_ece') as {
  decrypt(body: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer }): Buffer;
};

export interface ReceivedPush {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
}

/**
 * A push service on loopback, plain http (the worker runs with HERALD_ALLOW_LOOPBACK_URLS=true, which
 * allows http to loopback only): records every request and answers as scripted per path, else 201.
 */
export async function startPushService(options: { delayMs?: number } = {}) {
  const received: ReceivedPush[] = [];
  const scripts = new Map<string, Answer[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
      if (options.delayMs) return void setTimeout(() => answerRequest(), options.delayMs);
      answerRequest();
    });
    const answerRequest = () => {
      const path = req.url ?? '';
      const answer = scripts.get(path)?.shift() ?? {
        status: 201,
        headers: { location: `https://push.example/messages${path}/${received.length}` },
      };
      res.writeHead(answer.status, answer.headers).end();
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    /** Every request received so far, whatever its path. */
    requests: () => [...received],
    script: (path: string, answers: Answer[]) => scripts.set(path, answers),
    requestsTo: (path: string) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type PushService = Awaited<ReturnType<typeof startPushService>>;

/** A browser: its own P-256 key pair and auth secret, as pushManager.subscribe() makes them. */
export function newDevice(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    endpoint,
    ecdh,
    auth,
    json: {
      endpoint,
      expirationTime: null,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    },
  };
}
export type Device = ReturnType<typeof newDevice>;

/** The VAPID pair of the test worker. */
export const vapid = webpush.generateVAPIDKeys();
export const VAPID_SUBJECT = 'mailto:push-test@herald.local';

/** Checks `Authorization: vapid t=<jwt>, k=<key>` (RFC 8292) against the configured public key. */
export function expectValidVapid(header: string | undefined, audience: string): void {
  const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header ?? '');
  expect(match).not.toBeNull();
  const [, jwt, k] = match!;
  expect(k).toBe(vapid.publicKey);
  const [head, claims, signature] = jwt!.split('.') as [string, string, string];
  expect(JSON.parse(Buffer.from(head, 'base64url').toString())).toEqual({ typ: 'JWT', alg: 'ES256' });
  const point = Buffer.from(vapid.publicKey, 'base64url');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const signed = Buffer.from(`${head}.${claims}`);
  const sig = Buffer.from(signature, 'base64url');
  expect(verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  const body = JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<string, unknown>;
  const now = Date.now() / 1000;
  expect(body).toEqual({ aud: audience, exp: expect.any(Number), sub: VAPID_SUBJECT });
  expect(body.exp).toBeGreaterThan(now);
  expect(body.exp).toBeLessThanOrEqual(now + 24 * 3600);
}

export function decrypt(request: ReceivedPush, device: Device): unknown {
  expect(request.headers['content-encoding']).toBe('aes128gcm');
  return JSON.parse(
    ece
      .decrypt(request.body, { version: 'aes128gcm', privateKey: device.ecdh, authSecret: device.auth })
      .toString(),
  );
}
