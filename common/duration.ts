/** Durations as people write them in manifests and requests: `90s`, `10m`, `1h`, `7d`. */
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const DURATION_PATTERN = /^([1-9]\d{0,6})(s|m|h|d)$/;

/** Milliseconds of a duration such as `10m`; null when it is not one. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
