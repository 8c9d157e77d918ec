import type { HeraldSchema, paths } from '../clients/typescript/src';
import { SEARCH_ATTRIBUTES } from '../common/temporal';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import { ok } from './support/typed';

/** Creates three recipients in one group through the API, as a backend would. */
async function createGroupOfThree(stack: Stack) {
  const group = uniq('tech-admins');
  const groupName = `Technical Admin ${group}`;
  ok(
    await stack.herald.PUT('/v1/groups/{key}', {
      params: { path: { key: group } },
      body: { name: groupName },
    }),
    201,
  );
  const people = ['alice', 'bob', 'carol'].map((n) => ({
    id: uniq(n),
    name: n[0]!.toUpperCase() + n.slice(1),
    email: `${uniq(n)}@example.com`,
  }));
  for (const p of people) {
    ok(
      await stack.herald.PUT('/v1/recipients/{externalId}', {
        params: { path: { externalId: p.id } },
        body: { name: p.name, email: p.email, timezone: 'Africa/Harare' },
      }),
      201,
    );
    ok(
      await stack.herald.PUT('/v1/groups/{key}/members/{externalId}', {
        params: { path: { key: group, externalId: p.id } },
      }),
      201,
    );
  }
  return { group, groupName, people };
}

describe('a notification from an HTTP call to real inboxes', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('delivers ticket.assigned to a group of 3 plus a raw email, escaped, and is findable in Temporal', async () => {
    const { groupName, people } = await createGroupOfThree(stack);
    const rawEmail = `${uniq('ops')}@example.com`;
    const title = 'Printer <b>not</b> working & "jammed"';
    const created = ok(
      await stack.herald.POST('/v1/notifications', {
        body: {
          event: 'ticket.assigned',
          to: { groups: [groupName], emails: [rawEmail] },
          channels: ['email'],
          data: { ticketId: '123', title, priority: 'high' },
        },
      }),
      202,
    );
    expect(created.workflowId).toBe(`notification-${created.id}`);
    expect(created.links.temporalUi).toContain(`/namespaces/default/workflows/notification-${created.id}`);

    const view = await waitForNotification(stack, created.id, 15000);
    expect(view.status).toBe('completed');
    expect(view.counts).toEqual({ sent: 4 });
    expect(view.recipients).toHaveLength(4);
    for (const r of view.recipients) {
      expect(r.deliveries).toEqual([
        expect.objectContaining({ channel: 'email', status: 'sent', attempts: 1 }),
      ]);
    }

    const mails = stack.sink.messages();
    expect(mails).toHaveLength(4);
    const expectedAddresses = [...people.map((p) => p.email), rawEmail].map((a) => a.toLowerCase()).sort();
    expect(mails.flatMap((m) => m.envelopeTo).sort()).toEqual(expectedAddresses);
    for (const mail of mails) {
      expect(mail.subject).toBe(`[#123] Assigned to you: ${title}`);
      // HTML part: the variable is escaped, never injected as markup.
      expect(mail.html).toContain('Printer &lt;b&gt;not&lt;/b&gt; working &amp; &#34;jammed&#34;');
      expect(mail.html).not.toContain('<b>not</b>');
      // Text part: the same value verbatim (text is not HTML).
      expect(mail.text).toContain(title);
      expect(mail.messageId).toMatch(new RegExp(`^<${created.id}\\.[0-9a-f]{16}\\.email@herald\\.local>$`));
    }
    const alice = people[0]!;
    const aliceMail = mails.find((m) => m.envelopeTo.includes(alice.email.toLowerCase()))!;
    expect(aliceMail.text).toContain('Alice');

    // Findable in Temporal by its search attributes.
    const query = `${SEARCH_ATTRIBUTES.event.name} = 'ticket.assigned' AND ${SEARCH_ATTRIBUTES.tenant.name} = '${stack.tenantId}' AND ${SEARCH_ATTRIBUTES.priority.name} = 'normal' AND WorkflowId = '${created.workflowId}'`;
    const found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      for await (const wf of stack.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toEqual([created.workflowId]);
    // The database says completed a moment before the workflow sets its last search attribute and closes.
    const handle = stack.client.workflow.getHandle(created.workflowId);
    await handle.result();
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('completed');
    expect(await description.staticSummary()).toBe('ticket.assigned → 1 group, 1 email (normal)');
    // The small-audience path: one local activity, and no patch marker (whose TemporalChangeVersion
    // upsert would cost an event and a visibility write per notification).
    const events = (await handle.fetchHistory()).events ?? [];
    const markers = events.flatMap((e) => e.markerRecordedEventAttributes?.markerName ?? []);
    expect(markers).toEqual(['core_local_activity']);
    const upserted = events.flatMap((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    expect(upserted).toEqual([SEARCH_ATTRIBUTES.status.name]);
  });

  it('merges duplicates across recipients, groups and raw emails: one message per person', async () => {
    const { group, people } = await createGroupOfThree(stack);
    const alice = people[0]!;
    const created = ok(
      await stack.herald.POST('/v1/notifications', {
        body: {
          event: 'test_email',
          to: { groups: [group], recipients: [alice.id], emails: [alice.email.toUpperCase()] },
        },
      }),
      202,
    );
    const view = await waitForNotification(stack, created.id, 15000);
    expect(view.counts).toEqual({ sent: 3 });
    const delivered = stack.sink.messages().filter((m) => m.messageId.startsWith(`<${created.id}.`));
    expect(delivered).toHaveLength(3);
  });

  it('lists the delivery log with filters and pagination', async () => {
    const { group, people } = await createGroupOfThree(stack);
    const created = ok(
      await stack.herald.POST('/v1/notifications', {
        body: {
          event: 'job.failed',
          channels: ['email'],
          to: { groups: [group] },
          data: { jobName: 'backup-core', error: 'timeout' },
        },
      }),
      202,
    );
    await waitForNotification(stack, created.id, 15000);
    const deliveries = (query: NonNullable<paths['/v1/deliveries']['get']['parameters']['query']>) =>
      stack.herald.GET('/v1/deliveries', { params: { query } });
    const page1 = ok(await deliveries({ notification: created.id, limit: 2 }), 200);
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = ok(
      await deliveries({ notification: created.id, limit: 2, cursor: page1.nextCursor ?? undefined }),
    );
    expect(page2.items).toHaveLength(1);
    expect(page2.nextCursor).toBeNull();
    const ids = [...page1.items, ...page2.items].map((d) => d.recipientKey).sort();
    expect(ids).toEqual(people.map((p) => p.id).sort());

    const byRecipient = ok(
      await deliveries({ recipient: people[1]!.id, event: 'job.failed', status: 'sent' }),
    );
    expect(byRecipient.items).toEqual([
      expect.objectContaining({ recipientKey: people[1]!.id, status: 'sent' }),
    ]);
    const future = ok(await deliveries({ notification: created.id, since: '2999-01-01T00:00:00Z' }));
    expect(future.items).toEqual([]);
    const badDate = await deliveries({ since: 'yesterday' });
    expect(badDate.response.status).toBe(400);
    expect(badDate.error?.error.details[0]?.path).toBe('since');

    const list = ok(
      await stack.herald.GET('/v1/notifications', {
        params: { query: { event: 'job.failed', recipient: people[0]!.id } },
      }),
    );
    expect(list.items.map((n) => n.id)).toEqual([created.id]);
  });
});

describe('GET /v1/notifications/{id} while the workflow runs', () => {
  let stack: Stack;
  beforeAll(async () => {
    // A slow SMTP server keeps the notification running long enough to look at it; batches, not the
    // small-audience path (which sends while resolving), so the run shows its sending phase.
    stack = await startStack({ sink: { dataDelayMs: 1500 }, apiEnv: { SMALL_AUDIENCE_DELIVERIES: '0' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('answers from the workflow query while running, and from the database once finished', async () => {
    const emails = [`${uniq('slow')}@example.com`, `${uniq('slow')}@example.com`];
    const created = ok(
      await stack.herald.POST('/v1/notifications', { body: { event: 'test_email', to: { emails } } }),
      202,
    );
    let live: HeraldSchema<'Notification'> | undefined;
    for (let i = 0; i < 100 && !live; i++) {
      const view = ok(
        await stack.herald.GET('/v1/notifications/{id}', { params: { path: { id: created.id } } }),
      );
      if (view.source === 'workflow' && view.progress?.phase === 'sending') live = view;
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(live).toMatchObject({
      source: 'workflow',
      status: 'running',
      progress: { phase: 'sending', recipients: 2 },
    });
    const done = await waitForNotification(stack, created.id);
    expect(done).toMatchObject({ source: 'database', status: 'completed', counts: { sent: 2 } });
  });
});
