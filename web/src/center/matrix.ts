/**
 * Preferences as a matrix: one fieldset per category, a row for the whole category and one per
 * event, a checkbox per channel. The checked state is always the server's (GET …/preferences/matrix,
 * which applies the person's rules and their groups' defaults); a click writes the person's own
 * document (PUT …/preferences) and then reads the matrix again.
 */
import type { CenterApi } from './api';
import { el, hiddenLabel, uid } from './dom';
import { categoryName, channelName } from './labels';
import { switchCategory, switchEvent } from './preference-edits';
import { describeError, statusLine } from './status';
import type { MatrixCategory, PreferenceMatrix } from './types';

interface Cell {
  input: HTMLInputElement;
  category: string;
  /** null: the category row. */
  event: string | null;
  channel: string;
}

/** Renders the matrix into `host`; returns the first matrix read (the digest offers its categories). */
export async function mountMatrix(host: HTMLElement, api: CenterApi): Promise<PreferenceMatrix> {
  const status = statusLine();
  let [prefs, matrix] = await Promise.all([api.preferences(), api.matrix()]);
  const cells: Cell[] = [];
  const categories = new Map(matrix.categories.map((c) => [c.category, c]));

  host.replaceChildren(
    el('p', { class: 'hint' }, [
      'Choose how each kind of message reaches you. Critical alerts from your organisation always arrive.',
    ]),
    ...matrix.categories.map((category) => renderCategory(category, matrix.channels, cells)),
    status.element,
  );
  update(matrix);

  // One write at a time, each from the document the previous one stored.
  let queue: Promise<void> = Promise.resolve();
  host.addEventListener('change', (event) => {
    const cell = cells.find((c) => c.input === event.target);
    if (!cell) return;
    const on = cell.input.checked;
    queue = queue.then(async () => {
      const category = categories.get(cell.category)!;
      const next =
        cell.event === null
          ? switchCategory(prefs, category, cell.channel, on)
          : switchEvent(prefs, category, cell.event, cell.channel, on);
      try {
        prefs = await api.putPreferences(next);
        status.say('Preferences saved.');
      } catch (error) {
        status.say(describeError(error), 'error');
      }
      try {
        matrix = await api.matrix();
      } catch {
        // keep showing the last matrix; the status line said what failed
      }
      update(matrix);
    });
  });
  return matrix;

  function update(current: PreferenceMatrix): void {
    const byKey = new Map(current.categories.map((c) => [c.category, c]));
    for (const cell of cells) {
      const category = byKey.get(cell.category);
      if (!category) continue;
      if (cell.event !== null) {
        const event = category.events.find((e) => e.event === cell.event);
        const state = event?.channels[cell.channel];
        // Critical events show what always happens, whatever their rules say.
        cell.input.checked = event?.critical ? true : (state?.send ?? true);
        cell.input.title = event?.critical ? '' : (state?.reason ?? '');
        continue;
      }
      const mutable = category.events.filter((e) => !e.critical);
      const on = mutable.filter((e) => e.channels[cell.channel]?.send).length;
      // A category of critical events only is always on, like its events.
      cell.input.checked = on === mutable.length;
      cell.input.indeterminate = on > 0 && on < mutable.length;
    }
  }
}

function renderCategory(category: MatrixCategory, channels: string[], cells: Cell[]): HTMLElement {
  const name = categoryName(category.category);
  const allCritical = category.events.every((e) => e.critical);
  const head = el('tr', {}, [
    el('th', { scope: 'col' }, ['Message']),
    ...channels.map((channel) => el('th', { scope: 'col' }, [channelName(channel)])),
  ]);

  const checkbox = (label: string, cell: Omit<Cell, 'input'>, disabled: boolean, describedBy?: string) => {
    const id = uid('pref');
    const input = el('input', {
      type: 'checkbox',
      id,
      disabled,
      'aria-describedby': describedBy,
      'data-channel': cell.channel,
      'data-event': cell.event ?? cell.category,
    });
    cells.push({ ...cell, input });
    return el('td', {}, [input, hiddenLabel(id, label)]);
  };

  const reasonIds = new Map(category.events.filter((e) => e.critical).map((e) => [e.event, uid('why')]));
  const allRow = el('tr', { class: 'all' }, [
    el('th', { scope: 'row' }, [`All ${name.toLowerCase()} messages`]),
    ...channels.map((channel) =>
      checkbox(
        `${channelName(channel)} for all ${name.toLowerCase()} messages`,
        { category: category.category, event: null, channel },
        allCritical,
        allCritical ? [...reasonIds.values()][0] : undefined,
      ),
    ),
  ]);

  const eventRows = category.events.map((event) => {
    const reasonId = reasonIds.get(event.event);
    const header = el('th', { scope: 'row' }, [
      el('span', { class: 'event-name' }, [event.description]),
      ...(event.critical && reasonId
        ? [el('span', { class: 'always', id: reasonId }, [`Always on: ${event.criticalReason ?? ''}`])]
        : []),
    ]);
    return el('tr', { class: event.critical ? 'critical' : undefined }, [
      header,
      ...channels.map((channel) =>
        checkbox(
          `${channelName(channel)} for ${event.description}`,
          { category: category.category, event: event.event, channel },
          event.critical,
          reasonId,
        ),
      ),
    ]);
  });

  return el('fieldset', { class: 'category', 'data-category': category.category }, [
    el('legend', {}, [name]),
    el('div', { class: 'table-scroll' }, [
      el('table', { class: 'matrix' }, [el('thead', {}, [head]), el('tbody', {}, [allRow, ...eventRows])]),
    ]),
  ]);
}
