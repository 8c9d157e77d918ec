/**
 * Digest choice: the kinds of messages taken together in one message (hourly, daily at an hour,
 * or weekly on a day), instead of one each. The digest's `events` are `category:<name>` keys and
 * event keys; keys the page does not offer (set by the backend) are kept as they are.
 * PATCH …/delivery-settings; due times in activities/digest.ts (daily at 08:00 by default).
 */
import type { CenterApi } from './api';
import { el, uid } from './dom';
import { categoryName } from './labels';
import { describeError, statusLine } from './status';
import type { DeliverySettings, Digest, PreferenceMatrix } from './types';

const DEFAULT_HOUR = 8;
const DEFAULT_WEEKDAY = 1;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export function mountDigest(
  host: HTMLElement,
  api: CenterApi,
  settings: DeliverySettings,
  matrix: PreferenceMatrix,
): void {
  const status = statusLine();
  let current = settings.digest;
  const offered = matrix.categories.filter((c) => c.events.some((e) => !e.critical));
  const offeredKeys = new Set(offered.map((c) => c.key));

  const boxes = offered.map((category) => {
    const id = uid('digest');
    const input = el('input', { type: 'checkbox', id, value: category.key });
    return {
      input,
      row: el('div', { class: 'field check' }, [
        input,
        el('label', { for: id }, [categoryName(category.category)]),
      ]),
    };
  });

  const ids = { frequency: uid('freq'), hour: uid('hour'), weekday: uid('weekday') };
  const frequency = el('select', { id: ids.frequency }, [
    el('option', { value: 'hourly' }, ['Every hour']),
    el('option', { value: 'daily' }, ['Every day']),
    el('option', { value: 'weekly' }, ['Every week']),
  ]);
  const hour = el('select', { id: ids.hour });
  for (let h = 0; h < 24; h++)
    hour.append(el('option', { value: String(h) }, [`${String(h).padStart(2, '0')}:00`]));
  const weekday = el('select', { id: ids.weekday });
  WEEKDAYS.forEach((day, index) => weekday.append(el('option', { value: String(index) }, [day])));
  const hourField = el('div', { class: 'field' }, [el('label', { for: ids.hour }, ['At']), hour]);
  const weekdayField = el('div', { class: 'field' }, [el('label', { for: ids.weekday }, ['On']), weekday]);

  const showTiming = () => {
    hourField.hidden = frequency.value === 'hourly';
    weekdayField.hidden = frequency.value !== 'weekly';
  };
  const fill = (digest: Digest | null) => {
    const chosen = new Set(digest?.events ?? []);
    for (const box of boxes) box.input.checked = chosen.has(box.input.value);
    frequency.value = digest?.frequency ?? 'daily';
    hour.value = String(digest?.hour ?? DEFAULT_HOUR);
    weekday.value = String(digest?.weekday ?? DEFAULT_WEEKDAY);
    showTiming();
  };
  fill(current);
  frequency.addEventListener('change', showTiming);

  const save = el('button', { type: 'submit' }, ['Save digest']);
  const form = el('form', { class: 'settings' }, [
    el('fieldset', {}, [
      el('legend', {}, ['Bundle these into one message']),
      el('p', { class: 'hint' }, ['Nothing ticked: every message arrives on its own.']),
      ...boxes.map((b) => b.row),
    ]),
    el('div', { class: 'field-row' }, [
      el('div', { class: 'field' }, [el('label', { for: ids.frequency }, ['How often']), frequency]),
      hourField,
      weekdayField,
    ]),
    save,
    status.element,
  ]);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const kept = (current?.events ?? []).filter((key) => !offeredKeys.has(key));
    const events = [...kept, ...boxes.filter((b) => b.input.checked).map((b) => b.input.value)];
    const chosen = frequency.value as Digest['frequency'];
    const digest: Digest | null =
      events.length === 0
        ? null
        : {
            events,
            frequency: chosen,
            ...(chosen === 'hourly' ? {} : { hour: Number(hour.value) }),
            ...(chosen === 'weekly' ? { weekday: Number(weekday.value) } : {}),
          };
    save.disabled = true;
    api
      .patchDeliverySettings({ digest })
      .then((stored) => {
        current = stored.digest;
        fill(current);
        status.say(current ? 'Digest saved.' : 'Digest turned off: every message arrives on its own.');
      })
      .catch((error: unknown) => status.say(describeError(error), 'error'))
      .finally(() => {
        save.disabled = false;
      });
  });
  host.replaceChildren(form);
}
