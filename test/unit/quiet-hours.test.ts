import {
  isInQuietHours,
  localParts,
  quietHoursEnd,
  validateQuietHours,
  zonedTimeToUtc,
  type QuietHoursWindow,
} from '../../common/quiet-hours';

/**
 * Every instant is written out as an ISO string with its offset, so the tests never read the clock and
 * never depend on the host's time zone. DST changes of 2026 used below:
 *   Europe/London       spring forward 29 Mar 01:00 UTC (01:00 GMT → 02:00 BST), fall back 25 Oct 01:00 UTC (02:00 BST → 01:00 GMT)
 *   America/New_York    spring forward 8 Mar 07:00 UTC (02:00 EST → 03:00 EDT), fall back 1 Nov 06:00 UTC (02:00 EDT → 01:00 EST)
 *   Australia/Lord_Howe fall back 4 Apr 15:00 UTC (02:00 +11 → 01:30 +10:30), spring forward 3 Oct 15:30 UTC (02:00 +10:30 → 02:30 +11)
 * Africa/Harare (+02:00) and Asia/Kolkata (+05:30) have no DST.
 */

const HARARE = 'Africa/Harare';
const LONDON = 'Europe/London';
const NEW_YORK = 'America/New_York';
const LORD_HOWE = 'Australia/Lord_Howe';
const KOLKATA = 'Asia/Kolkata';

const HOUR = 3_600_000;
const ms = (iso: string): number => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad ISO instant in test table: ${iso}`);
  return t;
};
const utc = (t: number): string => new Date(t).toISOString();
const win = (timezone: string, start: string, end: string): QuietHoursWindow => ({ start, end, timezone });

describe('isInQuietHours', () => {
  it.each([
    // A same-day window: [09:00, 17:00).
    [HARARE, '09:00', '17:00', '2026-06-10T08:59:59+02:00', false],
    [HARARE, '09:00', '17:00', '2026-06-10T09:00:00+02:00', true],
    [HARARE, '09:00', '17:00', '2026-06-10T12:00:00+02:00', true],
    [HARARE, '09:00', '17:00', '2026-06-10T16:59:59.999+02:00', true],
    [HARARE, '09:00', '17:00', '2026-06-10T17:00:00+02:00', false],
    [HARARE, '09:00', '17:00', '2026-06-10T23:00:00+02:00', false],
    [KOLKATA, '09:00', '17:00', '2026-06-10T03:29:00Z', false], // 08:59 IST
    [KOLKATA, '09:00', '17:00', '2026-06-10T03:30:00Z', true], // 09:00 IST
    [LONDON, '09:00', '17:00', '2026-07-01T08:30:00Z', true], // 09:30 BST
    [LONDON, '09:00', '17:00', '2026-01-15T08:30:00Z', false], // 08:30 GMT
    [NEW_YORK, '09:00', '17:00', '2026-07-01T13:00:00Z', true], // 09:00 EDT
    [NEW_YORK, '09:00', '17:00', '2026-01-15T13:00:00Z', false], // 08:00 EST
    [LORD_HOWE, '09:00', '17:00', '2026-06-10T06:29:00Z', true], // 16:59 +10:30
    [LORD_HOWE, '09:00', '17:00', '2026-06-10T06:30:00Z', false], // 17:00 +10:30
    // A window crossing midnight: [22:00, 07:00).
    [HARARE, '22:00', '07:00', '2026-06-10T21:59:59+02:00', false],
    [HARARE, '22:00', '07:00', '2026-06-10T22:00:00+02:00', true], // exactly at start
    [HARARE, '22:00', '07:00', '2026-06-10T23:59:59+02:00', true], // just before midnight
    [HARARE, '22:00', '07:00', '2026-06-11T00:00:00+02:00', true],
    [HARARE, '22:00', '07:00', '2026-06-11T00:01:00+02:00', true], // just after midnight
    [HARARE, '22:00', '07:00', '2026-06-11T06:59:59.999+02:00', true],
    [HARARE, '22:00', '07:00', '2026-06-11T07:00:00+02:00', false], // exactly at end
    [HARARE, '22:00', '07:00', '2026-06-11T12:00:00+02:00', false],
    [KOLKATA, '22:00', '07:00', '2026-06-10T16:30:00Z', true], // 22:00 IST
    [KOLKATA, '22:00', '07:00', '2026-06-11T01:30:00Z', false], // 07:00 IST
    [LONDON, '22:00', '07:00', '2026-01-15T23:30:00Z', true],
    [LONDON, '22:00', '07:00', '2026-07-01T21:30:00Z', true], // 22:30 BST
    [NEW_YORK, '22:00', '07:00', '2026-07-02T03:59:00Z', true], // 23:59 EDT
    [NEW_YORK, '22:00', '07:00', '2026-07-02T11:00:00Z', false], // 07:00 EDT
    [LORD_HOWE, '22:00', '07:00', '2026-06-10T22:00:00+10:30', true],
    [LORD_HOWE, '22:00', '07:00', '2026-06-10T21:59:00+10:30', false],
    // start === end: never quiet.
    [HARARE, '08:00', '08:00', '2026-06-10T08:00:00+02:00', false],
    [HARARE, '08:00', '08:00', '2026-06-10T03:00:00+02:00', false],
    [LONDON, '00:00', '00:00', '2026-03-29T01:30:00Z', false],
    [NEW_YORK, '22:00', '22:00', '2026-11-01T05:30:00Z', false],
  ])('%s %s–%s at %s → %s', (zone, start, end, at, expected) => {
    expect(isInQuietHours(win(zone, start, end), ms(at))).toBe(expected);
  });
});

describe('quietHoursEnd on ordinary days', () => {
  it.each([
    [HARARE, '22:00', '07:00', '2026-06-10T23:30:00+02:00', '2026-06-11T07:00:00+02:00'], // before midnight
    [HARARE, '22:00', '07:00', '2026-06-11T00:30:00+02:00', '2026-06-11T07:00:00+02:00'], // after midnight
    [HARARE, '22:00', '07:00', '2026-06-10T22:00:00+02:00', '2026-06-11T07:00:00+02:00'], // at start
    [HARARE, '10:00:00', '10:00:03', '2026-06-10T10:00:01+02:00', '2026-06-10T10:00:03+02:00'], // seconds
    [HARARE, '22:00', '07:00', '2026-06-11T07:00:00+02:00', '2026-06-11T07:00:00+02:00'], // at end: outside
    [HARARE, '22:00', '07:00', '2026-06-10T12:00:00+02:00', '2026-06-10T12:00:00+02:00'], // outside
    [HARARE, '22:00', '07:00', '2026-12-31T23:00:00+02:00', '2027-01-01T07:00:00+02:00'], // across a year
    [HARARE, '22:00', '07:00', '2026-02-28T23:00:00+02:00', '2026-03-01T07:00:00+02:00'], // across a month
    [KOLKATA, '22:00', '07:00', '2026-06-10T23:00:00+05:30', '2026-06-11T07:00:00+05:30'],
    [LONDON, '22:00', '07:00', '2026-01-15T23:00:00Z', '2026-01-16T07:00:00Z'],
    [NEW_YORK, '22:00', '07:00', '2026-07-01T23:15:00-04:00', '2026-07-02T07:00:00-04:00'],
    [LORD_HOWE, '09:00', '17:00', '2026-06-10T10:00:00+10:30', '2026-06-10T17:00:00+10:30'],
    [HARARE, '08:00', '08:00', '2026-06-10T08:00:00+02:00', '2026-06-10T08:00:00+02:00'], // never quiet
  ])('%s %s–%s from %s → %s', (zone, start, end, at, expected) => {
    expect(utc(quietHoursEnd(win(zone, start, end), ms(at)))).toBe(utc(ms(expected)));
  });
});

describe('quietHoursEnd on DST change days', () => {
  it.each([
    // Spring forward, end time after the gap: 02:30 BST.
    [LONDON, '00:30', '02:30', '2026-03-29T00:30:00+00:00', '2026-03-29T02:30:00+01:00'],
    [LONDON, '00:30', '02:30', '2026-03-29T02:00:00+01:00', '2026-03-29T02:30:00+01:00'],
    // Spring forward, end time in the gap (01:00–02:00 GMT does not exist): ends right after it.
    [LONDON, '00:30', '01:30', '2026-03-29T00:45:00+00:00', '2026-03-29T01:00:00Z'],
    // 02:30 does not exist in New York that day: ends at 03:00 EDT = 07:00 UTC.
    [NEW_YORK, '00:30', '02:30', '2026-03-08T00:30:00-05:00', '2026-03-08T07:00:00Z'],
    [NEW_YORK, '00:30', '02:30', '2026-03-08T01:59:00-05:00', '2026-03-08T03:00:00-04:00'],
    // Lord Howe skips 02:00–02:30: ends at 02:30 +11.
    [LORD_HOWE, '00:30', '02:15', '2026-10-04T01:00:00+10:30', '2026-10-04T02:30:00+11:00'],
    // A start time in the gap starts right after it, and the night ends as usual.
    [NEW_YORK, '02:30', '06:00', '2026-03-08T03:00:00-04:00', '2026-03-08T06:00:00-04:00'],
    // Fall back: 01:30 occurs twice, the window ends at the first.
    [LONDON, '22:00', '01:30', '2026-10-24T23:00:00+01:00', '2026-10-25T01:30:00+01:00'],
    [LONDON, '22:00', '01:30', '2026-10-25T01:15:00+01:00', '2026-10-25T00:30:00Z'],
    [NEW_YORK, '22:00', '01:30', '2026-10-31T22:00:00-04:00', '2026-11-01T01:30:00-04:00'],
    [NEW_YORK, '22:00', '01:30', '2026-11-01T01:29:00-04:00', '2026-11-01T05:30:00Z'],
    [LORD_HOWE, '22:00', '01:45', '2026-04-04T23:00:00+11:00', '2026-04-05T01:45:00+11:00'],
    // In the repeated hour after the first 01:30, the night is over: not quiet again.
    [LONDON, '22:00', '01:30', '2026-10-25T01:00:00+00:00', '2026-10-25T01:00:00+00:00'],
    [NEW_YORK, '22:00', '01:30', '2026-11-01T01:15:00-05:00', '2026-11-01T01:15:00-05:00'],
    [LORD_HOWE, '22:00', '01:45', '2026-04-05T01:40:00+10:30', '2026-04-05T01:40:00+10:30'],
  ])('%s %s–%s from %s → %s', (zone, start, end, at, expected) => {
    const window = win(zone, start, end);
    const got = quietHoursEnd(window, ms(at));
    expect(utc(got)).toBe(utc(ms(expected)));
    expect(isInQuietHours(window, ms(at))).toBe(got !== ms(at));
    expect(isInQuietHours(window, got)).toBe(false);
  });

  it.each([
    // A start time in the gap: quiet starts right after the gap.
    [NEW_YORK, '02:30', '06:00', '2026-03-08T01:59:59-05:00', false],
    [NEW_YORK, '02:30', '06:00', '2026-03-08T03:00:00-04:00', true],
    // A start time that occurs twice: quiet starts at the first.
    [LONDON, '01:30', '06:00', '2026-10-25T01:30:00+01:00', true],
    [LONDON, '01:30', '06:00', '2026-10-25T01:29:00+01:00', false],
  ])('%s %s–%s at %s → %s', (zone, start, end, at, expected) => {
    expect(isInQuietHours(win(zone, start, end), ms(at))).toBe(expected);
  });
});

describe('the length of a 22:00–07:00 night', () => {
  it.each([
    [HARARE, '2026-03-28T22:00:00+02:00', '2026-03-29T07:00:00+02:00', 9],
    [KOLKATA, '2026-10-24T22:00:00+05:30', '2026-10-25T07:00:00+05:30', 9],
    [LONDON, '2026-06-10T22:00:00+01:00', '2026-06-11T07:00:00+01:00', 9],
    [LONDON, '2026-03-28T22:00:00+00:00', '2026-03-29T07:00:00+01:00', 8], // spring forward
    [LONDON, '2026-10-24T22:00:00+01:00', '2026-10-25T07:00:00+00:00', 10], // fall back
    [NEW_YORK, '2026-03-07T22:00:00-05:00', '2026-03-08T07:00:00-04:00', 8],
    [NEW_YORK, '2026-10-31T22:00:00-04:00', '2026-11-01T07:00:00-05:00', 10],
    [LORD_HOWE, '2026-10-03T22:00:00+10:30', '2026-10-04T07:00:00+11:00', 8.5],
    [LORD_HOWE, '2026-04-04T22:00:00+11:00', '2026-04-05T07:00:00+10:30', 9.5],
  ])('%s from %s to %s is %s h', (zone, start, end, hours) => {
    const window = win(zone, '22:00', '07:00');
    expect(isInQuietHours(window, ms(start) - 1)).toBe(false);
    expect(isInQuietHours(window, ms(start))).toBe(true);
    const got = quietHoursEnd(window, ms(start));
    expect(utc(got)).toBe(utc(ms(end)));
    expect((got - ms(start)) / HOUR).toBe(hours);
  });
});

describe('localParts', () => {
  it.each([
    [HARARE, '2026-06-10T22:00:00Z', [2026, 6, 11, 0, 0, 0]], // midnight is hour 0, not 24
    [KOLKATA, '2026-12-31T18:30:00Z', [2027, 1, 1, 0, 0, 0]],
    [LONDON, '2026-03-29T00:59:59Z', [2026, 3, 29, 0, 59, 59]],
    [LONDON, '2026-03-29T01:00:00Z', [2026, 3, 29, 2, 0, 0]],
    [NEW_YORK, '2026-11-01T05:30:00Z', [2026, 11, 1, 1, 30, 0]],
    [NEW_YORK, '2026-11-01T06:30:00Z', [2026, 11, 1, 1, 30, 0]], // the repeated 01:30
    [LORD_HOWE, '2026-10-03T15:30:00Z', [2026, 10, 4, 2, 30, 0]],
    [LORD_HOWE, '2026-04-04T15:15:00Z', [2026, 4, 5, 1, 45, 0]],
  ])('%s at %s', (zone, at, [year, month, day, hour, minute, second]) => {
    expect(localParts(ms(at), zone)).toEqual({ year, month, day, hour, minute, second });
  });
});

describe('zonedTimeToUtc', () => {
  const parts = (local: string) => {
    const [year, month, day, hour, minute] = local.split(/[-T:]/).map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    return { year, month, day, hour, minute };
  };

  it.each([
    [HARARE, '2026-06-10T22:00', '2026-06-10T22:00:00+02:00'],
    [KOLKATA, '2026-01-01T00:00', '2026-01-01T00:00:00+05:30'],
    [LONDON, '2026-01-15T12:00', '2026-01-15T12:00:00Z'],
    [LONDON, '2026-07-01T12:00', '2026-07-01T11:00:00Z'],
    [NEW_YORK, '2026-07-01T12:00', '2026-07-01T16:00:00Z'],
    [LORD_HOWE, '2026-06-10T12:00', '2026-06-10T01:30:00Z'],
    // Nonexistent: the instant right after the gap.
    [LONDON, '2026-03-29T01:30', '2026-03-29T01:00:00Z'],
    [NEW_YORK, '2026-03-08T02:00', '2026-03-08T07:00:00Z'],
    [NEW_YORK, '2026-03-08T02:30', '2026-03-08T07:00:00Z'],
    [LORD_HOWE, '2026-10-04T02:15', '2026-10-03T15:30:00Z'],
    // Either side of the gap.
    [NEW_YORK, '2026-03-08T01:59', '2026-03-08T06:59:00Z'],
    [NEW_YORK, '2026-03-08T03:00', '2026-03-08T07:00:00Z'],
    // Ambiguous: the earlier instant.
    [LONDON, '2026-10-25T01:30', '2026-10-25T00:30:00Z'],
    [NEW_YORK, '2026-11-01T01:30', '2026-11-01T05:30:00Z'],
    [LORD_HOWE, '2026-04-05T01:45', '2026-04-04T14:45:00Z'],
    // Just after the repeated hour: occurs once.
    [NEW_YORK, '2026-11-01T02:00', '2026-11-01T07:00:00Z'],
  ])('%s %s → %s', (zone, local, expected) => {
    expect(utc(zonedTimeToUtc(parts(local), zone))).toBe(utc(ms(expected)));
  });

  const instants = [
    '2026-01-15T00:00:00Z',
    '2026-03-29T12:34:00Z',
    '2026-07-01T23:59:00Z',
    '2026-10-25T12:00:00Z',
    '2026-02-28T21:30:00Z',
    '2024-02-29T10:15:00Z',
  ];
  it.each([HARARE, LONDON, NEW_YORK, LORD_HOWE, KOLKATA].flatMap((zone) => instants.map((at) => [zone, at])))(
    'round-trips with localParts: %s at %s',
    (zone, at) => {
      const local = localParts(ms(at), zone);
      expect(utc(zonedTimeToUtc(local, zone))).toBe(at.replace('Z', '.000Z'));
      expect(localParts(zonedTimeToUtc(local, zone), zone)).toEqual(local);
    },
  );
});

describe('validateQuietHours', () => {
  it.each([
    [{ start: '22:00', end: '07:00', timezone: HARARE }, []],
    [{ start: '00:00', end: '23:59', timezone: 'UTC' }, []],
    [{ start: '09:00', end: '17:00', timezone: LORD_HOWE }, []],
    [{ start: '24:00', end: '07:00', timezone: LONDON }, ['start']],
    [{ start: '22:00', end: '7:00', timezone: LONDON }, ['end']],
    [{ start: '22:00', end: '07:00', timezone: 'Mars/Olympus' }, ['timezone']],
    [{ start: '22:00:60', end: '07:60', timezone: NEW_YORK }, ['start', 'end']],
    [{ start: '22:00:30', end: '07:00:05', timezone: NEW_YORK }, []], // seconds are allowed
    [{ start: '', end: 'seven', timezone: '' }, ['start', 'end', 'timezone']],
  ])('%j → %j', (window, paths) => {
    const problems = validateQuietHours(window);
    expect(problems.map((p) => p.path)).toEqual(paths);
    for (const p of problems)
      expect(p.message).toContain(JSON.stringify(window[p.path as keyof typeof window]));
  });

  it('rejects a missing zone rather than falling back to the host zone', () => {
    const window = { start: '22:00', end: '07:00' } as unknown as QuietHoursWindow;
    expect(validateQuietHours(window).map((p) => p.path)).toEqual(['timezone']);
  });

  it('makes the arithmetic throw on a malformed time instead of guessing', () => {
    expect(() => isInQuietHours(win(HARARE, '24:00', '07:00'), 0)).toThrow(RangeError);
  });
});

describe('independence from the host time zone', () => {
  it('gives the same answers whatever TZ the process runs in', () => {
    const run = () => [
      quietHoursEnd(win(NEW_YORK, '00:30', '02:30'), ms('2026-03-08T00:30:00-05:00')),
      quietHoursEnd(win(LONDON, '22:00', '01:30'), ms('2026-10-24T23:00:00+01:00')),
      zonedTimeToUtc({ year: 2026, month: 4, day: 5, hour: 1, minute: 45 }, LORD_HOWE),
    ];
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Pacific/Kiritimati';
      const east = run();
      process.env.TZ = 'America/Los_Angeles';
      expect(run()).toEqual(east);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
