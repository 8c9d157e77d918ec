import { expectError } from './support/expect-error';
import { startStack, uniq, type Stack } from './support/stack';
import { mailTo, sendAndCollect } from './support/tenant-mail';

/**
 * Each person's language: the recipient's locale picks the variants (fr-CA → fr → default), raw
 * addresses take the request's locale or the tenant default, and dates and numbers follow the
 * recipient's locale and time zone. Real worker, real mails in the loopback SMTP sink.
 */

/** A fixed instant (no dependence on today's date): 14 March 2031, 18:45 UTC. */
const DUE_AT = '2031-03-14T18:45:00Z';
const AMOUNT = 1234567.891;

/** What `date_local: "long"` and `number_local: "EUR"` must write, computed here with Intl itself. */
const expectedDate = (locale: string, timeZone: string) =>
  new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone }).format(
    new Date(DUE_AT),
  );
const expectedAmount = (locale: string) =>
  new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(AMOUNT);

describe('localisation', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A recipient of the stack's tenant with this locale and zone; its id and address. */
  const person = async (locale: string | null, timezone: string | null) => {
    const id = uniq(`p-${locale ?? 'none'}`);
    const email = `${id}@example.com`;
    const put = await stack.api('PUT', `/v1/recipients/${id}`, { name: 'Rudo', email, locale, timezone });
    expect(put.status).toBeLessThan(300);
    return { id, email };
  };

  it('gives fr-CA the French subject, pt the Portuguese one and de the default (English)', async () => {
    const [frCa, pt, de, none] = await Promise.all([
      person('fr-CA', 'America/Toronto'),
      person('pt', 'America/Sao_Paulo'),
      person('de', 'Europe/Berlin'),
      person(null, null),
    ]);
    const sent = await sendAndCollect(stack, stack.api, {
      event: 'ticket.assigned',
      to: { recipients: [frCa.id, pt.id, de.id, none.id] },
      data: { ticketId: '42', title: 'Imprimante HS', assignee: 'Chipo' },
      channels: ['email'],
    });
    expect(sent.status).toBe('completed');
    const fr = mailTo(sent.mails, frCa.email);
    expect(fr.subject).toBe('[#42] Ticket qui vous est attribué : Imprimante HS');
    expect(fr.text).toContain('Bonjour Rudo,');
    expect(fr.text).toContain('a été attribué à Chipo.');
    // The layout's own words follow the language too.
    expect(fr.text).toContain(
      'Vous recevez ce message parce que vous êtes destinataire des notifications de',
    );
    expect(fr.html).toContain('Ticket #42 attribué');
    const portuguese = mailTo(sent.mails, pt.email);
    expect(portuguese.subject).toBe('[#42] Atribuído a você: Imprimante HS');
    expect(portuguese.text).toContain('O chamado #42 Imprimante HS foi atribuído a Chipo.');
    expect(portuguese.text).toContain('Você recebe esta mensagem');
    for (const english of [mailTo(sent.mails, de.email), mailTo(sent.mails, none.email)]) {
      expect(english.subject).toBe('[#42] Assigned to you: Imprimante HS');
      expect(english.text).toContain('You receive this because you are a recipient of');
    }
  });

  it("gives a raw address the request's locale; without one, the tenant default (brand defaultLocale)", async () => {
    const fr = `${uniq('raw-fr')}@example.com`;
    const asked = await sendAndCollect(stack, stack.api, {
      event: 'job.failed',
      to: { emails: [fr] },
      data: { jobName: 'Sauvegarde', error: 'disque plein' },
      channels: ['email'],
      locale: 'fr',
    });
    expect(mailTo(asked.mails, fr).subject).toBe('Échec de la tâche : Sauvegarde');

    const brand = await stack.api('PUT', '/v1/settings/brand', { name: 'Herald BR', defaultLocale: 'pt-BR' });
    expect(brand.status).toBe(200);
    const raw = `${uniq('raw')}@example.com`;
    const defaulted = await sendAndCollect(stack, stack.api, {
      event: 'job.failed',
      to: { emails: [raw, fr] },
      data: { jobName: 'Backup', error: 'disk full' },
      channels: ['email'],
    });
    expect(mailTo(defaulted.mails, raw).subject).toBe('Falha na tarefa: Backup');
    expect(mailTo(defaulted.mails, raw).text).toContain('A tarefa Backup falhou.');
    expect((await stack.api('DELETE', '/v1/settings/brand')).status).toBe(204);
  });

  it('refuses a request locale that is not BCP 47 with 400 naming locale', async () => {
    const response = await stack.api('POST', '/v1/notifications', {
      event: 'job.failed',
      to: { emails: ['x@example.com'] },
      data: { jobName: 'x', error: 'y' },
      locale: 'not a locale!',
    });
    expectError(response, 400, 'validation_failed');
    expect(response.body.error.details).toEqual([
      { path: 'locale', message: expect.stringMatching(/BCP 47/) },
    ]);
  });

  describe('dates and numbers in the recipient’s locale and zone', () => {
    const event = `acme.maintenance.${uniq('m').slice(2)}`;

    beforeAll(async () => {
      const put = await stack.api('PUT', `/v1/templates/${event}`, {
        manifest: {
          event,
          category: 'maintenance',
          description: 'Planned maintenance.',
          defaultChannels: ['email'],
          defaultPriority: 'normal',
          variables: {
            dueAt: { type: 'string', required: true },
            amount: { type: 'number', required: true },
          },
          sample: { dueAt: '2031-01-01T00:00:00Z', amount: 1 },
        },
        variants: {
          subject: 'Maintenance {{ dueAt | date_local: "long" }}',
          mjml: '<mj-section><mj-column><mj-text>Due {{ dueAt | date_local: "long" }}, cost {{ amount | number_local: "EUR" }}</mj-text></mj-column></mj-section>',
          text: 'Due {{ dueAt | date_local: "long" }}\nCost {{ amount | number_local: "EUR" }}',
        },
      });
      expect(put.status).toBe(200);
    });

    it('writes a French date in Europe/Paris and an English one in America/New_York', async () => {
      const [paris, newYork, utc] = await Promise.all([
        person('fr', 'Europe/Paris'),
        person('en-US', 'America/New_York'),
        person(null, null),
      ]);
      const sent = await sendAndCollect(stack, stack.api, {
        event,
        to: { recipients: [paris.id, newYork.id, utc.id] },
        data: { dueAt: DUE_AT, amount: AMOUNT },
      });
      expect(sent.status).toBe('completed');
      const fr = mailTo(sent.mails, paris.email);
      const us = mailTo(sent.mails, newYork.email);
      const plain = mailTo(sent.mails, utc.email);
      const frDate = expectedDate('fr', 'Europe/Paris');
      const usDate = expectedDate('en-US', 'America/New_York');
      expect(frDate).toMatch(/14 mars 2031/);
      expect(frDate).toMatch(/19:45/); // UTC+1 in March, before the change to summer time
      expect(usDate).toMatch(/March 14, 2031/);
      expect(usDate).toMatch(/2:45\sPM/); // UTC-4: New York has changed already
      expect(fr.text).toContain(`Due ${frDate}`);
      expect(fr.text).toContain(`Cost ${expectedAmount('fr')}`);
      expect(fr.subject).toBe(`Maintenance ${frDate}`.replace(/\s+/g, ' '));
      expect(us.text).toContain(`Due ${usDate}`);
      expect(us.text).toContain(`Cost ${expectedAmount('en-US')}`);
      expect(plain.text).toContain(`Due ${expectedDate('en', 'UTC')}`);
    });

    it('previews in the locale and zone asked for', async () => {
      const preview = await stack.api('POST', `/v1/templates/${event}/preview`, {
        data: { dueAt: DUE_AT, amount: AMOUNT },
        locale: 'fr',
        timezone: 'Europe/Paris',
      });
      expect(preview.status).toBe(200);
      expect(preview.body.locale).toBe('fr');
      expect(preview.body.email.text).toContain(`Due ${expectedDate('fr', 'Europe/Paris')}`);
    });
  });

  it('previews a built-in template in the locale asked for, every variant', async () => {
    const pt = await stack.api('POST', '/v1/templates/job.failed/preview', { locale: 'pt-BR' });
    expect(pt.status).toBe(200);
    expect(pt.body.email.subject).toBe('Falha na tarefa: Push VLAN changes');
    expect(pt.body.sms).toMatch(/: a tarefa Push VLAN changes falhou em branch-rtr-07/);
    expect(pt.body.push.title).toBe('Falha na tarefa: Push VLAN changes');
    expect(pt.body.inapp.body).toMatch(/^A tarefa Push VLAN changes falhou/);
    const fr = await stack.api('POST', '/v1/templates/ticket.created/preview', { locale: 'fr-CA' });
    expect(fr.body.email.subject).toMatch(/^\[#1042\] Nouveau ticket : /);
    const de = await stack.api('POST', '/v1/templates/ticket.created/preview', { locale: 'de-AT' });
    expect(de.body.email.subject).toMatch(/^\[#1042\] New ticket: /);
    const bad = await stack.api('POST', '/v1/templates/ticket.created/preview', { locale: 'xx yy' });
    expectError(bad, 400, 'validation_failed');
    expect(bad.body.error.details).toEqual([{ path: 'locale', message: expect.stringMatching(/BCP 47/) }]);
  });

  it("uses a tenant's override for one locale, more specific than the built-in", async () => {
    const put = await stack.api('PUT', '/v1/templates/ticket.assigned', {
      locale: 'fr-CA',
      variants: { subject: 'Québec : billet #{{ ticketId }} pour vous' },
    });
    expect(put.status).toBe(200);
    const [quebec, france] = await Promise.all([person('fr-CA', null), person('fr-FR', null)]);
    const sent = await sendAndCollect(stack, stack.api, {
      event: 'ticket.assigned',
      to: { recipients: [quebec.id, france.id] },
      data: { ticketId: '8', title: 'Écran' },
      channels: ['email'],
    });
    expect(mailTo(sent.mails, quebec.email).subject).toBe('Québec : billet #8 pour vous');
    // The rest of the fr-CA mail is the built-in French; fr-FR gets the built-in French subject.
    expect(mailTo(sent.mails, quebec.email).text).toContain('Bonjour Rudo,');
    expect(mailTo(sent.mails, france.email).subject).toBe('[#8] Ticket qui vous est attribué : Écran');
    expect((await stack.api('DELETE', '/v1/templates/ticket.assigned?locale=fr-CA')).status).toBe(204);
  });
});
