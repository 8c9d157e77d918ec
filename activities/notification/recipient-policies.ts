import type { Pool } from 'pg';
import type { WorkerMetrics } from '../../common/metrics';
import type { NotificationRequest } from '../../common/types';
import {
  applyPolicyOutcomes,
  policyRowsPage,
  tenantHasPolicies,
  type PolicyRow,
} from '../../db/queries/policies';
import { loadPreferencesFor } from '../../db/queries/preferences';
import { suppressedAddresses, suppressRawEmailDeliveries } from '../../db/queries/suppressions';
import type { TemplateManifest } from '../../templates/registry';
import {
  decideForRecipient,
  emailAddressesToCheck,
  suppressionListReason,
  unsubscribesApply,
} from '../policies';

/**
 * Preferences, digests, unsubscribes and failover standbys of a notification level's deliveries,
 * one page of recipients at a time (an audience is never loaded whole). Only changed rows are written.
 */
export async function applyRecipientPolicies(
  db: Pool,
  metrics: WorkerMetrics,
  notificationId: string,
  tenantId: string,
  level: number,
  request: NotificationRequest,
  manifest: TemplateManifest | undefined,
): Promise<void> {
  const context = {
    event: request.event,
    category: manifest?.category ?? null,
    priority: request.priority,
    data: request.data,
    unsubscribable: manifest?.unsubscribe ?? true,
  };
  if (!(await tenantHasPolicies(db, tenantId))) return;
  // Raw addresses have no other policy (and no failover chain): the suppression list alone decides.
  if (unsubscribesApply(context)) {
    const reason = suppressionListReason(context.category);
    await suppressRawEmailDeliveries(db, notificationId, level, context.category, reason);
  }
  let after = '';
  for (;;) {
    const rows = await policyRowsPage(db, notificationId, level, after, 500);
    if (rows.length === 0) return;
    const byRecipient = new Map<string, PolicyRow[]>();
    for (const row of rows)
      byRecipient.set(row.externalId, [...(byRecipient.get(row.externalId) ?? []), row]);
    const preferences = await loadPreferencesFor(db, tenantId, [...byRecipient.keys()]);
    const addressOf = new Map(rows.map((r) => [r.id, r.address]));
    const suppressed = unsubscribesApply(context)
      ? await suppressedAddresses(db, tenantId, emailAddressesToCheck(rows, preferences), context.category)
      : new Set<string>();
    const outcomes = [...byRecipient].flatMap(([externalId, own]) =>
      decideForRecipient(own, preferences.get(externalId) ?? { own: null, groups: [] }, context, suppressed),
    );
    const changed = outcomes.filter((o) => o.status !== 'pending' || o.address !== addressOf.get(o.id));
    await applyPolicyOutcomes(db, notificationId, changed, request.data);
    const digested = changed.filter((o) => o.status === 'digested').length;
    if (digested > 0) metrics.digestItems.inc(digested);
    after = rows[rows.length - 1]!.externalId;
  }
}
