import type { EscalationLevel } from '../common/types';

/** The levels in the order they fire, repeated `repeat` more times, each pass later than the last. */
export function expandLevels(levels: EscalationLevel[], repeat: number): EscalationLevel[] {
  const pass = levels.reduce((max, l) => Math.max(max, l.afterSeconds), 0);
  const sorted = [...levels].sort((a, b) => a.afterSeconds - b.afterSeconds);
  return Array.from({ length: repeat + 1 }, (_, cycle) =>
    sorted.map((l) => ({ ...l, afterSeconds: l.afterSeconds + cycle * pass })),
  ).flat();
}
