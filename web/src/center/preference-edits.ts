/**
 * What a click in the matrix writes into the preferences document (rules: common/preferences.ts).
 * Pure: takes a document, returns a changed copy. The matrix shown afterwards is the server's
 * answer (GET …/preferences/matrix), so the rules are computed in one place only.
 */
import type { MatrixCategory, PreferencesDocument } from './types';

const copy = (doc: PreferencesDocument): PreferencesDocument => JSON.parse(JSON.stringify(doc));

function setSwitch(doc: PreferencesDocument, key: string, channel: string, on: boolean): void {
  doc.events ??= {};
  const rule = (doc.events[key] ??= {});
  rule.channels = { ...rule.channels, [channel]: on };
}

function dropSwitch(doc: PreferencesDocument, key: string, channel: string): void {
  const rule = doc.events?.[key];
  if (!rule?.channels || !(channel in rule.channels)) return;
  delete rule.channels[channel];
  if (Object.keys(rule.channels).length === 0) delete rule.channels;
  if (Object.keys(rule).length === 0) delete doc.events![key];
}

/**
 * An unsubscribe from a category's email beats every switch, so switching email back on for it
 * resubscribes; its other events keep email off through a category switch, as they were.
 */
function resubscribe(doc: PreferencesDocument, category: MatrixCategory, keepOthersOff: boolean): void {
  const list = doc.unsubscribed?.email;
  if (!list?.includes(category.category)) return;
  doc.unsubscribed!.email = list.filter((c) => c !== category.category);
  if (keepOthersOff) setSwitch(doc, category.key, 'email', false);
}

/** One event on one channel. */
export function switchEvent(
  current: PreferencesDocument,
  category: MatrixCategory,
  event: string,
  channel: string,
  on: boolean,
): PreferencesDocument {
  const doc = copy(current);
  if (on && channel === 'email') resubscribe(doc, category, true);
  setSwitch(doc, event, channel, on);
  return doc;
}

/**
 * A whole category on one channel: the category's switch, and its events' own switches for that
 * channel removed so that it decides for all of them. Events that always arrive get an explicit
 * switch on, so that switching the category off cannot silence them.
 */
export function switchCategory(
  current: PreferencesDocument,
  category: MatrixCategory,
  channel: string,
  on: boolean,
): PreferencesDocument {
  const doc = copy(current);
  if (on && channel === 'email') resubscribe(doc, category, false);
  setSwitch(doc, category.key, channel, on);
  for (const event of category.events) {
    if (event.critical && !on) setSwitch(doc, event.event, channel, true);
    else dropSwitch(doc, event.event, channel);
  }
  return doc;
}
