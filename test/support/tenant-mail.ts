import type { ReceivedMail } from '../../scripts/lib/mail-sink';
import { createTestTenant } from './auth';
import { rawRequest, uniq, type ApiResponse, type Stack } from './stack';

/** A call to the API as one tenant's key. */
export type TenantApi = (method: string, path: string, body?: unknown) => Promise<ApiResponse>;

/** Another tenant on the same stack (same API, worker and mail sink), with a key of every scope. */
export async function otherTenant(
  stack: Stack,
  prefix = 'tenant-b',
): Promise<{ tenantId: string; api: TenantApi }> {
  const tenantId = uniq(prefix);
  const { key } = await createTestTenant(stack.db, tenantId);
  return {
    tenantId,
    api: (method, path, body) =>
      rawRequest(stack.baseUrl, method, path, { headers: { authorization: `Bearer ${key}` }, body }),
  };
}

/**
 * Sends a notification as the tenant, waits until it has finished, and returns the mails of it the
 * sink received (by their Message-ID, which starts with the notification id).
 */
export async function sendAndCollect(
  stack: Stack,
  api: TenantApi,
  request: Record<string, unknown>,
): Promise<{ id: string; status: string; mails: ReceivedMail[] }> {
  const created = await api('POST', '/v1/notifications', request);
  if (created.status !== 202)
    throw new Error(`POST /v1/notifications: ${created.status} ${JSON.stringify(created.body)}`);
  const id: string = created.body.id;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { body } = await api('GET', `/v1/notifications/${id}`);
    if (['completed', 'failed', 'cancelled'].includes(body?.status)) {
      const mails = stack.sink.messages().filter((m) => m.messageId.startsWith(`<${id}.`));
      return { id, status: body.status, mails };
    }
    if (Date.now() > deadline) throw new Error(`notification ${id} still ${body?.status} after 60 s`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The one mail to `address` among `mails`. */
export function mailTo(mails: ReceivedMail[], address: string): ReceivedMail {
  const found = mails.filter((m) => m.envelopeTo.includes(address.toLowerCase()));
  if (found.length !== 1) throw new Error(`${found.length} mails to ${address}, expected 1`);
  return found[0]!;
}
