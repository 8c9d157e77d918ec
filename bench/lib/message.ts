/**
 * The message every row sends: the event and data of the Herald rows, rendered with the project's
 * TemplateRegistry, in the envelope Herald's email channel builds (name + address, Message-ID,
 * X-Herald-* headers), so the limit, the peer and the ceiling move the same bytes Herald does.
 */
import type { SendMailOptions } from 'nodemailer';
import { deliveryMessageId } from '../../activities/channels/email';
import type { MailParts } from '../../activities/channels/email/mime';
import { resolveBrand } from '../../common/settings/brand';
import type { RenderedEmail, TemplateRegistry } from '../../templates/registry';

export const BENCH_EVENT = 'ticket.assigned';
export const BENCH_DATA = { ticketId: '1', title: 'Benchmark' };
export const MAIL_FROM = 'bench@herald.local';

/** The bench's recipients are bench-1 … bench-N, named "Bench i", at bench-i@example.com. */
export const recipientOf = (i: number) => ({
  externalId: `bench-${i}`,
  name: `Bench ${i}`,
  email: `bench-${i}@example.com`,
});

/** What Herald renders for recipient i (the same context its send activity gives the templates). */
export function renderFor(templates: TemplateRegistry, i: number, notificationId: string): RenderedEmail {
  const recipient = recipientOf(i);
  const email = templates.renderEmail(BENCH_EVENT, {
    data: BENCH_DATA,
    recipient: { name: recipient.name, email: recipient.email, externalId: recipient.externalId },
    brand: resolveBrand(null, 'Herald'),
    notification: { id: notificationId, event: BENCH_EVENT, priority: 'normal' },
  });
  // A sender that forgets to await MJML's promise would send an empty body: refuse to measure that.
  if (!email.html || !email.text || !email.subject) throw new Error('rendered an empty message');
  return email;
}

/** The parts of recipient i's message, shaped as Herald's email channel shapes them. */
export function partsFor(email: RenderedEmail, i: number, notificationId: string): MailParts {
  const recipient = recipientOf(i);
  return {
    from: MAIL_FROM,
    to: { name: recipient.name, address: recipient.email },
    subject: email.subject,
    html: email.html,
    text: email.text,
    messageId: deliveryMessageId(notificationId, recipient.externalId),
    headers: { 'X-Herald-Notification': notificationId, 'X-Herald-Delivery': String(i) },
  };
}

/** The same message for nodemailer to compose. */
export function mailFor(email: RenderedEmail, i: number, notificationId: string): SendMailOptions {
  return { ...partsFor(email, i, notificationId), disableUrlAccess: true, disableFileAccess: true };
}

/** Bytes of the html and text parts, for the header line (Herald's message, before MIME encoding). */
export const messageBytes = (email: RenderedEmail): number =>
  Buffer.byteLength(email.html) + Buffer.byteLength(email.text) + Buffer.byteLength(email.subject);
