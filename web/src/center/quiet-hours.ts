/**
 * Quiet hours and time zone: messages that arrive in the window wait until it ends, in the
 * person's zone (common/quiet-hours.ts); critical ones do not wait. PATCH …/delivery-settings.
 */
import type { CenterApi } from './api';
import { el, uid } from './dom';
import { describeError, statusLine } from './status';
import type { DeliverySettings } from './types';

/** Every IANA zone the browser knows; the stored one is kept even when the browser lacks it. */
function timeZones(current: string | null): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf?.('timeZone') ?? [];
  const all = new Set(zones);
  if (current) all.add(current);
  all.add('UTC');
  return [...all].sort();
}

/** The browser's own zone, offered as a hint. */
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

const hhmm = (value: string) => value.slice(0, 5);

export function mountQuietHours(host: HTMLElement, api: CenterApi, settings: DeliverySettings): void {
  const status = statusLine();
  const ids = {
    on: uid('qh-on'),
    start: uid('qh-start'),
    end: uid('qh-end'),
    zone: uid('tz'),
    help: uid('qh-help'),
  };

  const on = el('input', { type: 'checkbox', id: ids.on, 'aria-describedby': ids.help });
  const start = el('input', { type: 'time', id: ids.start, required: true });
  const end = el('input', { type: 'time', id: ids.end, required: true });
  const zone = el('select', { id: ids.zone });
  zone.append(el('option', { value: '' }, ["Not set (your organisation's zone)"]));
  for (const name of timeZones(settings.timezone)) zone.append(el('option', { value: name }, [name]));

  const fill = (current: DeliverySettings) => {
    on.checked = current.quietHours !== null;
    start.value = hhmm(current.quietHours?.start ?? '22:00');
    end.value = hhmm(current.quietHours?.end ?? '07:00');
    zone.value = current.timezone ?? '';
    start.disabled = end.disabled = !on.checked;
  };
  fill(settings);
  on.addEventListener('change', () => {
    start.disabled = end.disabled = !on.checked;
  });

  const save = el('button', { type: 'submit' }, ['Save quiet hours']);
  const form = el('form', { class: 'settings', novalidate: true }, [
    el('p', { class: 'hint', id: ids.help }, [
      'Messages that arrive during quiet hours wait until they end. Critical alerts do not wait.',
    ]),
    el('div', { class: 'field check' }, [
      on,
      el('label', { for: ids.on }, ['Hold messages during quiet hours']),
    ]),
    el('div', { class: 'field-row' }, [
      el('div', { class: 'field' }, [el('label', { for: ids.start }, ['From']), start]),
      el('div', { class: 'field' }, [el('label', { for: ids.end }, ['Until']), end]),
    ]),
    el('div', { class: 'field' }, [
      el('label', { for: ids.zone }, ['Time zone']),
      zone,
      el('span', { class: 'hint' }, [`This device is set to ${browserZone()}.`]),
    ]),
    save,
    status.element,
  ]);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (on.checked && (!start.value || !end.value)) {
      status.say('Give both a start and an end time.', 'error');
      (start.value ? end : start).focus();
      return;
    }
    save.disabled = true;
    api
      .patchDeliverySettings({
        quietHours: on.checked ? { start: start.value, end: end.value } : null,
        timezone: zone.value || null,
      })
      .then((stored) => {
        fill(stored);
        status.say('Quiet hours saved.');
      })
      .catch((error: unknown) => status.say(describeError(error), 'error'))
      .finally(() => {
        save.disabled = false;
      });
  });
  host.replaceChildren(form);
}
