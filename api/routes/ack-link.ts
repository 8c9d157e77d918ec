import { Hono } from 'hono';
import { ackLinkKey, verifyAck } from '../../common/ack-link';
import type { AppEnv } from '../deps';
import { getNotificationTenant } from '../../db/queries/notifications';
import { HttpError, notFound } from '../errors';
import { acknowledgeNotification } from '../services/notifications';

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title}</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{background:#1f4fd1;color:#fff;border:0;padding:.7rem 1.2rem;border-radius:4px;font-size:1rem}</style></head>
<body>${body}</body></html>`;

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

/**
 * Checks the link's signature and expiry; the key is derived from HERALD_SECRET_KEY, as by the worker
 * that signed it. 403 for a link that does not verify, 410 for a genuine one past its `exp`.
 */
function verified(c: {
  var: AppEnv['Variables'];
  req: { param(k: string): string; query(k: string): string | undefined };
}) {
  const secretKey = c.var.deps.secretKey;
  if (!secretKey) throw new HttpError(503, 'ack_links_not_configured', 'HERALD_SECRET_KEY is not set');
  const id = c.req.param('id');
  const by = c.req.query('by') ?? '';
  const check = verifyAck(ackLinkKey(secretKey), {
    notificationId: id,
    by,
    exp: c.req.query('exp') ?? '',
    sig: c.req.query('sig') ?? '',
  });
  if (!check.ok && check.reason === 'expired') {
    throw new HttpError(
      410,
      'link_expired',
      'this acknowledgement link has expired: acknowledge from a newer message or through the API',
      [{ path: 'exp', message: 'in the past' }],
    );
  }
  if (!check.ok) {
    throw new HttpError(403, 'invalid_signature', 'this acknowledgement link is not valid', [
      { path: 'sig', message: 'does not verify' },
    ]);
  }
  return { id, by };
}

/**
 * The acknowledgement link in messages. GET only shows a button (mail scanners open links; they
 * must not acknowledge), POST acknowledges.
 */
export const ackLinkRoutes = new Hono<AppEnv>()
  .get('/v1/notifications/:id/ack-link', (c) => {
    verified(c);
    return c.html(
      page(
        'Acknowledge',
        `<h1>Acknowledge this notification?</h1><p>Acknowledging stops its escalation.</p>
<form method="post"><button type="submit">Acknowledge</button></form>`,
      ),
    );
  })
  .post('/v1/notifications/:id/ack-link', async (c) => {
    const { id, by } = verified(c);
    const tenantId = await getNotificationTenant(c.var.deps.db, id);
    if (!tenantId) throw notFound(`notification ${id}`);
    const result = await acknowledgeNotification(c.var.deps, tenantId, id, by);
    const text = result.accepted ? 'Acknowledged. Thank you.' : `Not acknowledged: ${result.reason}.`;
    return c.html(page('Acknowledge', `<h1>${escapeHtml(text)}</h1>`), result.accepted ? 200 : 409);
  });
