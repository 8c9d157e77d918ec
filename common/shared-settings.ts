import { z } from 'zod';
import { blankAsUnset, secretKeyText } from './config';
import { vapidPublicKeyText } from './p256-keys';

/**
 * Variables both the API and the worker read, each checked by this one schema in both processes
 * (an empty value means unset, as for every optional variable): a value one process accepts, the
 * other does too. The API spreads the ones it reads into its schema; the worker's channel settings
 * name theirs from here.
 */
export const sharedSettings = {
  /** The API's public URL: links in messages and Twilio status callbacks are built under it. */
  PUBLIC_BASE_URL: blankAsUnset(z.url()),
  /** Seals tenants' secrets, webhook URLs and signing secrets at rest; signs ack and unsubscribe links. */
  HERALD_SECRET_KEY: blankAsUnset(secretKeyText),
  /**
   * Development only: push, webhook and tenant SMTP hosts may be loopback addresses (127.0.0.1, ::1).
   * Private, link-local and other special addresses stay refused whatever this says.
   */
  HERALD_ALLOW_LOOPBACK_URLS: z.enum(['true', 'false']).default('false'),
  /** DNS servers (comma-separated host:port) that resolve endpoint hosts; the system's if unset. */
  HERALD_DNS_SERVERS: blankAsUnset(z.string()),
  /** true: tenants must bring their own SMTP server (PUT /v1/settings/smtp); SMTP_URL is never used for them. */
  TENANT_SMTP_REQUIRED: z.enum(['true', 'false']).default('false'),
  /** The operator's Twilio auth token: the worker sends with it, the API verifies status callbacks with it. */
  TWILIO_AUTH_TOKEN: blankAsUnset(z.string()),
  /** Twilio requests go here instead of api.twilio.com: a test double or a proxy. */
  TWILIO_API_BASE_URL: blankAsUnset(z.url()),
  /** Web push: the public half of the VAPID key pair (the API serves it to browsers). */
  VAPID_PUBLIC_KEY: blankAsUnset(vapidPublicKeyText),
};
