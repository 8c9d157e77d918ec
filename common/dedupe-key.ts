import { createHash } from 'node:crypto';
import { Liquid } from 'liquidjs';
import type { DedupeRule } from './dedupe-rules';

// Undefined variables are errors (a key that silently rendered empty would merge unrelated
// notifications), except in `if` guards; the limits keep a key from burning the API's CPU.
const engine = new Liquid({
  strictVariables: true,
  strictFilters: true,
  lenientIf: true,
  parseLimit: 10_000,
  renderLimit: 1_000,
  memoryLimit: 1_000_000,
});

/** Longer rendered keys are stored as their SHA-256, so any data fits the claim's index. */
const MAX_STORED_KEY = 200;

/**
 * The dedupe key of a notification: the rule's Liquid rendered over the notification's data (the
 * variables at top level, as in the templates). Throws when it does not parse or render.
 */
export function renderDedupeKey(rule: DedupeRule, data: Record<string, unknown>): string {
  const key = String(engine.parseAndRenderSync(rule.key, data)).trim();
  return key.length <= MAX_STORED_KEY ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** Why the rule's key cannot be rendered over this data (e.g. `undefined variable: ticketId`); null if it can. */
export function dedupeKeyProblem(rule: DedupeRule, data: Record<string, unknown>): string | null {
  try {
    renderDedupeKey(rule, data);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
