import { dedupeRuleSchema, throttleRuleSchema } from '../../common/dedupe-rules';
import { parseDuration } from '../../common/duration';

describe('durations and dedupe/throttle rules', () => {
  it('reads durations as people write them, and nothing else', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    for (const bad of ['', '0m', '10', 'm', '1.5h', '-1h', '10 m', '1w', '01h'])
      expect(parseDuration(bad)).toBeNull();
  });

  it('accepts windows up to 30 days and names the field it refuses', () => {
    expect(dedupeRuleSchema.safeParse({ key: '{{ ticketId }}', window: '30d' }).success).toBe(true);
    const long = dedupeRuleSchema.safeParse({ key: '{{ ticketId }}', window: '31d' });
    expect(long.success).toBe(false);
    expect(long.error?.issues[0]?.path).toEqual(['window']);
    const zero = throttleRuleSchema.safeParse({ max: 0, per: '1h' });
    expect(zero.error?.issues[0]?.path).toEqual(['max']);
    expect(throttleRuleSchema.safeParse({ max: 5, per: '1h', extra: 1 }).success).toBe(false);
  });
});
