import { updateCurrentRun } from './workflow-updates';
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { deliveryTuning } from '../../common/delivery-tuning';
import type { TemplateRegistry } from '../../templates/registry';
import { startNotificationWorkflow } from '../../common/start-notification';
import {
  ackUpdate,
  cancelUpdate,
  notificationStateQuery,
  notificationWorkflowId,
} from '../../common/temporal';
import {
  type AckResult,
  type CancelResult,
  type NotificationPhase,
  type NotificationProgress,
  type Audience,
  type NotificationRequest,
} from '../../common/types';
import { readTenantSendContext, type TenantSendContext } from '../../db/queries/send-context';
import { readRecipientReach, type RecipientReach } from '../../db/queries/send-usage';
import { resolveGroupRefs } from '../../db/queries/groups';
import {
  countDeliveriesByStatus,
  listDeliveries,
  type Delivery,
  type DeliveryFilter,
} from '../../db/queries/deliveries';
import { listNotificationDeliveries, type NotificationDeliveryFilter } from '../../db/queries/delivery-pages';
import {
  deleteNotification,
  getNotification,
  insertNotificationOnce,
  listNotifications,
  type NotificationFilter,
  type NotificationRecord,
} from '../../db/queries/notifications';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { HttpError, notFound, validationFailed, type ErrorDetail } from '../errors';
import { canonicalJson, sha256Hex } from '../../common/canonical-json';
import { dedupeKeyProblem } from '../../common/dedupe-key';
import {
  namesAnyone,
  routingAdditions,
  withDefaultAudience,
  type EventRouting,
} from '../../common/event-routing';
import { defaultAudienceOf } from './event-routing';
import {
  checkSendCap,
  insertWithinDailyQuotas,
  releaseDailyQuotas,
  type SendCountLookups,
  type SendEstimate,
} from './send-limits';
import { recordAcknowledgedEvent } from '../../db/queries/status-events';

const QUERY_DEADLINE_MS = 2_000;

export interface CreatedNotification {
  id: string;
  workflowId: string;
  status: 'running';
  links: { self: string; deliveries: string; temporalUi: string };
  /** True when this answer replays an earlier request with the same idempotency key. */
  replayed: boolean;
}

/**
 * The reads the reference checks and the send count make. One request reads them from the database
 * (`directLookups`, each once per request); the bulk trigger reads each once for all its items
 * (api/services/bulk-notifications.ts).
 */
export interface ReferenceLookups extends SendCountLookups {
  /** The tenant's catalogue: its own events and variants on top of the built-in ones. */
  templates(): Promise<TemplateRegistry>;
  /** The event's default audience (its routing), null for none. */
  routing(event: string): Promise<EventRouting | null>;
  /** Group keys or names → keys, for the ones that exist. */
  groups(refs: string[]): Promise<Map<string, string>>;
  /** The external ids that exist. */
  recipients(ids: string[]): Promise<Set<string>>;
  /** The tenant's own daily quotas (channel → sends per UTC day). */
  dailyQuotas?(): Promise<Record<string, number>>;
}

/**
 * One request's reads, each made once: the tenant's catalogue version, quotas and tenant-wide
 * webhooks in one round trip, and the named recipients with their channels in another (the
 * existence check and the send count of an audience without groups share it). A notification to
 * known recipients is checked in two reads besides the key's; it took five.
 */
export function directLookups(deps: ApiDeps, tenantId: string): ReferenceLookups {
  let context: Promise<TenantSendContext> | undefined;
  const tenant = () => (context ??= readTenantSendContext(deps.db, tenantId));
  // Per id, so later reads (a default audience's, another bulk item's) ask only for ids not read yet.
  const reachOf = new Map<string, Promise<RecipientReach | undefined>>();
  const recipientReach = async (ids: string[]) => {
    const unread = [...new Set(ids.filter((id) => !reachOf.has(id)))];
    if (unread.length > 0) {
      const read = readRecipientReach(deps.db, tenantId, unread);
      for (const id of unread) {
        const own = read.then((rows) => rows.get(id));
        own.catch(() => undefined); // awaited below or by a later call; never an unhandled rejection
        reachOf.set(id, own);
      }
    }
    const found = new Map<string, RecipientReach>();
    for (const id of ids) {
      const own = await reachOf.get(id)!;
      if (own) found.set(id, own);
    }
    return found;
  };
  return {
    templates: async () => deps.templates.forTenantAt(deps.db, tenantId, (await tenant()).templateVersion),
    routing: (event) => defaultAudienceOf(deps, tenantId, { event }),
    groups: (refs) => resolveGroupRefs(deps.db, tenantId, refs),
    recipients: async (ids) => new Set((await recipientReach(ids)).keys()),
    recipientReach,
    tenantWebhooks: async () => (await tenant()).tenantWebhooks,
    dailyQuotas: async () => (await tenant()).dailyQuotas,
  };
}

export const notificationLinks = (config: ApiConfig, record: { id: string; workflowId: string }) => ({
  self: `/v1/notifications/${record.id}`,
  deliveries: `/v1/notifications/${record.id}/deliveries`,
  temporalUi: temporalUiLink(config, record.workflowId),
});

const temporalUiLink = (config: ApiConfig, workflowId: string) =>
  `${config.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;

/**
 * Checks what the schema cannot: the event, the variables, the groups and recipients must exist.
 * With `defaults`, `request.to` is the client's `to` plus `added` from the event's routing; those
 * the client never sent are reported on `to`, as the default audience's.
 */
export async function checkReferences(
  deps: ApiDeps,
  tenantId: string,
  request: Pick<NotificationRequest, 'event' | 'to' | 'data' | 'channels' | 'escalation' | 'dedupe'>,
  defaults?: { clientTo: Audience | undefined; added: EventRouting },
  lookups: ReferenceLookups = directLookups(deps, tenantId),
): Promise<TemplateRegistry> {
  const problems: ErrorDetail[] = [];
  // The tenant's view: its own events count, another tenant's do not.
  const templates = await lookups.templates();
  const manifest = templates.manifest(request.event);
  if (!namesAnyone(request.to)) {
    problems.push({
      path: 'to',
      message: manifest
        ? `name recipients or set a default audience with PUT /v1/events/${request.event}/routing`
        : 'name recipients',
    });
  }
  if (!manifest) {
    problems.push({
      path: 'event',
      message: `unknown event (no template); known events: ${templates.events().join(', ')}`,
    });
  } else {
    const allowLoopbackUrls = deps.config.HERALD_ALLOW_LOOPBACK_URLS === 'true';
    for (const p of templates.checkData(request.event, request.data, { allowLoopbackUrls })) {
      problems.push({ path: `data.${p.variable}`, message: p.message });
    }
    for (const [i, channel] of (request.channels ?? []).entries()) {
      if (!templates.supports(request.event, channel)) {
        problems.push({
          path: `channels[${i}]`,
          message: `event ${request.event} has no ${channel} template`,
        });
      }
    }
    // The key is rendered now, so a rule that cannot be is refused here rather than ignored later.
    const dedupe = request.dedupe ?? manifest.dedupe;
    const keyProblem = dedupe && dedupeKeyProblem(dedupe, request.data);
    if (keyProblem) {
      const whose = request.dedupe ? '' : `the dedupe rule of ${request.event}: `;
      problems.push({ path: 'dedupe.key', message: `${whose}${keyProblem}` });
    }
  }
  const audiences: { path: string; groups?: string[]; recipients?: string[]; routed?: boolean }[] = [
    defaults
      ? { path: 'to', groups: defaults.clientTo?.groups, recipients: defaults.clientTo?.recipients }
      : { path: 'to', groups: request.to.groups, recipients: request.to.recipients },
    ...(defaults ? [{ path: 'to', ...defaults.added, routed: true }] : []),
    ...(request.escalation?.levels ?? []).map((level, i) => ({
      path: `escalation.levels[${i}]`,
      groups: level.groups,
      recipients: level.recipients,
    })),
  ];
  const allGroups = audiences.flatMap((a) => a.groups ?? []);
  const allRecipients = audiences.flatMap((a) => a.recipients ?? []);
  const knownGroups = await lookups.groups(allGroups);
  const knownRecipients = await lookups.recipients(allRecipients);
  // The client did not send the default audience's entries: name `to`, and where they came from.
  const routedNote = ` in the default audience of ${request.event} (GET /v1/events/${request.event}/routing)`;
  for (const audience of audiences) {
    audience.groups?.forEach((g, i) => {
      if (knownGroups.has(g)) return;
      problems.push(
        audience.routed
          ? { path: 'to', message: `unknown group '${g}'${routedNote}` }
          : { path: `${audience.path}.groups[${i}]`, message: `unknown group '${g}'` },
      );
    });
    audience.recipients?.forEach((r, i) => {
      if (knownRecipients.has(r)) return;
      problems.push(
        audience.routed
          ? { path: 'to', message: `unknown recipient '${r}'${routedNote}` }
          : { path: `${audience.path}.recipients[${i}]`, message: `unknown recipient '${r}'` },
      );
    });
  }
  request.escalation?.levels.forEach((level, i) => {
    level.channels?.forEach((channel, j) => {
      if (manifest && !templates.supports(request.event, channel)) {
        problems.push({
          path: `escalation.levels[${i}].channels[${j}]`,
          message: `event ${request.event} has no ${channel} template`,
        });
      }
    });
  });
  if (problems.length > 0) throw validationFailed(problems);
  return templates;
}

/** A request as the client sends it: `to` may be left out for the event's default audience. */
export type NotificationSubmission = Omit<NotificationRequest, 'to'> & {
  to?: Audience;
  /** With `to`: the event's default audience too. */
  includeDefaults?: boolean;
};

/** A submission that passed every check, ready to be recorded. */
export interface PreparedNotification {
  /** With the default audience resolved: what the workflow gets. */
  request: NotificationRequest;
  sends: SendEstimate;
  /** Over the client's body (without its idempotency key): what a replay must match. */
  requestHash: string;
}

/**
 * Checks a submission before anything is written: the references (422), the send cap (422). The
 * audience is resolved now and stored in the request the workflow gets: a later change of the
 * routing never changes an accepted notification, and the checks and caps see it whole.
 */
export async function prepareNotification(
  deps: ApiDeps,
  tenantId: string,
  submission: NotificationSubmission,
  lookups: ReferenceLookups = directLookups(deps, tenantId),
): Promise<PreparedNotification> {
  // As defaultAudienceOf: the routing counts without `to`, or with `includeDefaults`.
  const wantsDefaults = !submission.to || submission.includeDefaults === true;
  const routing = wantsDefaults ? await lookups.routing(submission.event) : null;
  const { to: clientTo, includeDefaults: _includeDefaults, ...rest } = submission;
  const request: NotificationRequest = { ...rest, to: withDefaultAudience(clientTo, routing) };
  const defaults = routing ? { clientTo, added: routingAdditions(clientTo, routing) } : undefined;
  const templates = await checkReferences(deps, tenantId, request, defaults, lookups);
  const sends = await checkSendCap(deps, tenantId, request, templates, lookups);
  // Over the client's body, not the resolved one: a replay matches whatever the routing is now.
  return { request, sends, requestHash: sha256Hex(canonicalJson(submission)) };
}

/** 422 for a key already used with another body. */
export const idempotencyKeyReused = (existingId: string, path = 'Idempotency-Key') =>
  new HttpError(
    422,
    'idempotency_key_reused',
    'this Idempotency-Key was used with a different request body',
    [{ path, message: `already used for notification ${existingId} with another body` }],
  );

/** 503 for a workflow that could not be started; nothing was sent. */
export const temporalUnavailable = (error: unknown) =>
  new HttpError(
    503,
    'temporal_unavailable',
    `could not start the notification workflow: ${(error as Error).message}`,
  );

/** The start of a recorded notification, with what the API and the overdue activity both pass. */
export const startRecorded = (deps: ApiDeps, record: NotificationRecord) =>
  startNotificationWorkflow(deps.temporal, {
    record,
    taskQueue: deps.config.HERALD_TASK_QUEUE,
    tuning: deliveryTuning(deps.config),
  });

/**
 * Accepts a notification: validates it, records it (once per idempotency key) and starts its
 * workflow. Starting is itself idempotent (workflow id from the notification id, existing run
 * reused), so a request that loses a race, or repeats one whose first try died before the start,
 * still ends with exactly one workflow.
 */
export async function createNotification(
  deps: ApiDeps,
  tenantId: string,
  submission: NotificationSubmission,
  idempotencyKey: string | undefined,
): Promise<CreatedNotification> {
  // Before anything is written: over the cap is a 422, over a daily quota a 429 with no row.
  const lookups = directLookups(deps, tenantId);
  const { request, sends, requestHash } = await prepareNotification(deps, tenantId, submission, lookups);
  const id = randomUUID();
  const { inserted, record, reservation } = await insertWithinDailyQuotas(
    deps,
    tenantId,
    sends,
    (db) =>
      insertNotificationOnce(db, {
        id,
        tenantId,
        event: request.event,
        priority: request.priority,
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        request,
        workflowId: notificationWorkflowId(id),
      }),
    await lookups.dailyQuotas?.(),
  );
  if (!inserted && record.requestHash !== requestHash) throw idempotencyKeyReused(record.id);
  if (record.status === 'accepted') {
    try {
      await startRecorded(deps, record);
    } catch (error) {
      // Without a key nobody can retry this exact notification: leave nothing half-written.
      if (inserted && !idempotencyKey) {
        await deleteNotification(deps.db, record.id);
        await releaseDailyQuotas(deps, tenantId, reservation);
      }
      throw temporalUnavailable(error);
    }
  }
  return {
    id: record.id,
    workflowId: record.workflowId,
    status: 'running',
    links: notificationLinks(deps.config, record),
    replayed: !inserted,
  };
}

export interface RecipientState {
  recipientKey: string;
  externalId: string | null;
  name: string | null;
  deliveries: Pick<
    Delivery,
    | 'level'
    | 'notBefore'
    | 'failoverFrom'
    | 'providerStatus'
    | 'channel'
    | 'address'
    | 'status'
    | 'attempts'
    | 'error'
    | 'providerMessageId'
    | 'sentAt'
    | 'updatedAt'
  >[];
}

export interface NotificationView {
  id: string;
  workflowId: string;
  event: string;
  priority: string;
  status: string;
  createdAt: string;
  completedAt: string | null;
  source: 'workflow' | 'database';
  progress: NotificationProgress | null;
  /** From the delivery log on every request: they move while the notification runs. */
  counts: Partial<Record<string, number>>;
  /** What `recipients` shows of the deliveries, and where the next page starts. */
  deliveryPage: { total: number; shown: number; nextCursor: string | null };
  /** The first page of deliveries (`INLINE_DELIVERIES`, by id), by recipient. */
  recipients: RecipientState[];
  links: { self: string; deliveries: string; temporalUi: string };
}

/**
 * Deliveries the view lists inline, by recipient: the first page of
 * `GET /v1/notifications/{id}/deliveries`; a notification to thousands is paged from there.
 */
export const INLINE_DELIVERIES = 100;

const FINAL_PHASES: NotificationPhase[] = ['completed', 'failed', 'cancelled'];

/** The API's status of a notification in a workflow phase: `running | waiting_ack | completed | failed | cancelled`. */
const publicStatus = (phase: NotificationPhase): string =>
  phase === 'waiting_ack' || phase === 'waiting_quiet_hours' || FINAL_PHASES.includes(phase)
    ? phase
    : 'running';

/** A running notification answers from its workflow's query; a finished one from the database. */
export async function getNotificationView(
  deps: ApiDeps,
  tenantId: string,
  id: string,
): Promise<NotificationView> {
  let record = await getNotification(deps.db, tenantId, id);
  if (!record) throw notFound(`notification ${id}`);
  let progress: NotificationProgress | null = null;
  if (record.status === 'accepted' || record.status === 'running') {
    const { workflowId } = record;
    // A query needs a live worker; with none, answer from the database instead of hanging.
    progress = await deps.temporal.connection
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
        deps.temporal.workflow.getHandle(workflowId).query(notificationStateQuery),
      )
      .catch(() => null);
    // It finished between the read and the query: the log has its final status now.
    if (progress && FINAL_PHASES.includes(progress.phase)) {
      record = (await getNotification(deps.db, tenantId, id)) ?? record;
      progress = null;
    }
  }
  // Both from the log on every request, so the counts move while the batches go out (the
  // workflow's own counts are a snapshot of its last step).
  const [counts, firstPage] = await Promise.all([
    countDeliveriesByStatus(deps.db, record.id),
    notificationDeliveriesPage(deps.db, record.id, { limit: INLINE_DELIVERIES }),
  ]);
  const byRecipient = new Map<string, RecipientState>();
  for (const d of firstPage.items) {
    const state = byRecipient.get(d.recipientKey) ?? {
      recipientKey: d.recipientKey,
      externalId: d.externalId,
      name: d.recipientName,
      deliveries: [],
    };
    state.deliveries.push({
      channel: d.channel,
      level: d.level,
      notBefore: d.notBefore,
      failoverFrom: d.failoverFrom,
      address: d.address,
      providerStatus: d.providerStatus,
      status: d.status,
      attempts: d.attempts,
      error: d.error,
      providerMessageId: d.providerMessageId,
      sentAt: d.sentAt,
      updatedAt: d.updatedAt,
    });
    byRecipient.set(d.recipientKey, state);
  }
  return {
    id: record.id,
    workflowId: record.workflowId,
    event: record.event,
    priority: record.priority,
    status: progress
      ? publicStatus(progress.phase)
      : record.status === 'accepted'
        ? 'running'
        : record.status,
    createdAt: record.createdAt,
    completedAt: record.completedAt,
    source: progress ? 'workflow' : 'database',
    progress,
    counts,
    deliveryPage: {
      total: Object.values(counts).reduce<number>((a, n) => a + (n ?? 0), 0),
      shown: firstPage.items.length,
      nextCursor: firstPage.nextCursor,
    },
    recipients: [...byRecipient.values()],
    links: notificationLinks(deps.config, record),
  };
}

export const encodeCursor = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

export function decodeCursor<T>(cursor: string, check: (v: unknown) => v is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (check(value)) return value;
  } catch {
    // fall through to the error below
  }
  throw validationFailed([{ path: 'cursor', message: 'not a cursor returned by this API' }], 400);
}

/*
 * What a decoded cursor must hold. Its fields go into SQL as timestamptz, uuid and bigint parameters,
 * so anything PostgreSQL would refuse (a 500) is refused here as a bad cursor (a 400).
 */
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const MAX_BIGINT = 2n ** 63n - 1n;

/** A UTC time as the API writes it (to the microsecond), on a day that exists (not 02-30, not year 0). */
const isCursorTime = (t: unknown): t is string =>
  typeof t === 'string' &&
  CURSOR_TIME.test(t) &&
  !t.startsWith('0000') &&
  new Date(t).toISOString().slice(0, 19) === t.slice(0, 19);

/** `{t, id}`: a position in a list ordered by (created_at, id) with uuid ids. */
export const isTimeIdCursor = (v: unknown): v is { t: string; id: string } => {
  const c = v as { t?: unknown; id?: unknown } | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    isCursorTime(c.t) &&
    typeof c.id === 'string' &&
    UUID_TEXT.test(c.id)
  );
};

/** `{id}`: a position in the delivery log, whose ids are positive bigints (written as strings). */
const isDeliveryCursor = (v: unknown): v is { id: string } => {
  const id = (v as { id?: unknown } | null)?.id;
  return typeof id === 'string' && /^[1-9]\d{0,18}$/.test(id) && BigInt(id) <= MAX_BIGINT;
};

export async function listNotificationPage(
  deps: ApiDeps,
  tenantId: string,
  filter: NotificationFilter,
  limit: number,
  cursor?: string,
) {
  const before = cursor ? decodeCursor(cursor, isTimeIdCursor) : undefined;
  const rows = await listNotifications(deps.db, tenantId, filter, {
    limit: limit + 1,
    before: before ? { createdAt: new Date(before.t), id: before.id } : undefined,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    // Idempotency keys are the caller's secrets of a sort (they may encode business ids): never listed back.
    items: page.map(({ request: _request, requestHash: _hash, idempotencyKey: _key, ...rest }) => rest),
    nextCursor: rows.length > limit && last ? encodeCursor({ t: last.createdAt, id: last.id }) : null,
  };
}

/** `{after}`: a position in one notification's deliveries, read in id order (not the log's newest first). */
const isAfterCursor = (v: unknown): v is { after: string } => {
  const after = (v as { after?: unknown } | null)?.after;
  return isDeliveryCursor({ id: after });
};

/** A page of a notification's deliveries in id order, and the cursor of the next (null at the end). */
async function notificationDeliveriesPage(
  db: ApiDeps['db'],
  notificationId: string,
  page: { limit: number; after?: string } & NotificationDeliveryFilter,
): Promise<{ items: Delivery[]; nextCursor: string | null }> {
  const rows = await listNotificationDeliveries(db, notificationId, { ...page, limit: page.limit + 1 });
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: rows.length > page.limit && last ? encodeCursor({ after: last.id }) : null,
  };
}

/** `GET /v1/notifications/{id}/deliveries`: every delivery of the notification, page by page. */
export async function listNotificationDeliveryPage(
  deps: ApiDeps,
  tenantId: string,
  id: string,
  query: { limit: number; cursor?: string } & NotificationDeliveryFilter,
) {
  const { cursor, ...page } = query;
  const after = cursor ? decodeCursor(cursor, isAfterCursor).after : undefined;
  const record = await getNotification(deps.db, tenantId, id);
  if (!record) throw notFound(`notification ${id}`);
  return notificationDeliveriesPage(deps.db, record.id, { ...page, after });
}

export async function listDeliveryPage(
  deps: ApiDeps,
  tenantId: string,
  filter: DeliveryFilter,
  limit: number,
  cursor?: string,
) {
  const before = cursor ? decodeCursor(cursor, isDeliveryCursor) : undefined;
  const rows = await listDeliveries(deps.db, tenantId, filter, { limit: limit + 1, beforeId: before?.id });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > limit && last ? encodeCursor({ id: last.id }) : null };
}

/** Sends the `ack` update; a finished notification cannot be acknowledged any more (409). */
export async function acknowledgeNotification(
  deps: ApiDeps,
  tenantId: string,
  id: string,
  by: string,
): Promise<AckResult> {
  const record = await getNotification(deps.db, tenantId, id);
  if (!record) throw notFound(`notification ${id}`);
  let result: AckResult;
  try {
    result = await updateCurrentRun(deps.temporal.workflow.getHandle(record.workflowId), ackUpdate, [{ by }]);
  } catch (error) {
    throw finishedConflict(error, record.id);
  }
  // The ack lives in the workflow, where no trigger sees it: its status event is written here.
  if (result.accepted) await recordAcknowledgedEvent(deps.db, { tenantId, notificationId: record.id, by });
  return result;
}

/** Sends the `cancel` update and answers with what was still pending; a finished notification is a 409. */
export async function cancelNotification(deps: ApiDeps, tenantId: string, id: string): Promise<CancelResult> {
  const record = await getNotification(deps.db, tenantId, id);
  if (!record) throw notFound(`notification ${id}`);
  try {
    const result = await updateCurrentRun(
      deps.temporal.workflow.getHandle(record.workflowId),
      cancelUpdate,
      [],
    );
    if (!result.cancelled)
      throw new HttpError(409, 'notification_finished', `notification ${id} has already finished`);
    return result;
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw finishedConflict(error, record.id);
  }
}

/** An update to a closed workflow fails; that means the notification had finished. */
function finishedConflict(error: unknown, id: string): HttpError {
  if (
    error instanceof WorkflowNotFoundError ||
    /completed|closed|not found/i.test((error as Error).message)
  ) {
    return new HttpError(409, 'notification_finished', `notification ${id} has already finished`);
  }
  return new HttpError(
    503,
    'temporal_unavailable',
    `could not reach the notification workflow: ${(error as Error).message}`,
  );
}
