/**
 * Quiet hours: a daily window, in the recipient's own time zone, during which notifications wait.
 *
 * This runs inside Temporal workflows, so it must be deterministic: no Node built-ins, no clock, and
 * no Date method that depends on the host's zone. Zone arithmetic goes through `Intl.DateTimeFormat`
 * with an explicit `timeZone` (deterministic in the workflow sandbox) and `Date.UTC`.
 *
 * A night is the interval [start, end) between two instants: the start time on some local day and the
 * end time on that day (or the next one, when the window crosses midnight), each resolved with
 * `zonedTimeToUtc`. Working with instants rather than comparing wall-clock readings is what makes the
 * DST rules hold: a night is 8 h or 10 h long across a change, it ends right after a spring-forward gap
 * when its end time falls in the gap, and it ends at the first occurrence of an end time that a
 * fall-back repeats (the repeated hour is not quiet again).
 */

/** A daily window in a recipient's own IANA zone, e.g. { start: '22:00', end: '07:00', timezone: 'Africa/Harare' }. start === end means no quiet hours. A window may cross midnight. */
export interface QuietHoursWindow {
  start: string;
  end: string;
  timezone: string;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** HH:MM, optionally :SS (seconds make short windows possible, e.g. in tests). */
const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

/** Building a formatter is costly and the same few zones come back for every notification. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    // Throws a RangeError for an unknown zone, so only valid zones are ever cached.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23', // 00–23: `hour12: false` may print midnight as 24
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Local wall-clock parts of `at` in `timezone` (year, month, day, hour, minute, second) via Intl.DateTimeFormat (hourCycle h23). */
export function localParts(at: number, timezone: string): LocalParts {
  const parts: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const { type, value } of formatter(timezone).formatToParts(at)) {
    if (type in parts) parts[type as keyof LocalParts] = Number(value);
  }
  return parts;
}

/** The zone's offset from UTC at `at`, in ms (local = UTC + offset). Intl reports whole seconds. */
function offsetAt(at: number, timezone: string): number {
  const p = localParts(at, timezone);
  const wholeSecond = Math.floor(at / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - wholeSecond;
}

/** The UTC instant of a local wall-clock time in `timezone` (for nonexistent times: the instant right after the gap; for ambiguous ones: the earlier). */
export function zonedTimeToUtc(
  parts: { year: number; month: number; day: number; hour: number; minute: number },
  timezone: string,
): number {
  // The wall-clock reading as if it were UTC; the real instant is this minus the offset in force.
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
  // Offsets a day either side bracket any transition near this time (offsets stay within ±14 h).
  const before = offsetAt(wall - DAY, timezone);
  const after = offsetAt(wall + DAY, timezone);
  const fits = [wall - before, wall - after].filter((t) => offsetAt(t, timezone) === wall - t);
  // Both fit when the time is repeated (fall back): take the earlier.
  if (fits.length > 0) return Math.min(...fits);

  // Neither fits: the time falls in a gap (spring forward), which lies between the two readings.
  // Search, to the second, for the transition: the first instant that shows the later offset.
  let lo = Math.min(wall - before, wall - after); // still on the earlier offset
  let hi = Math.max(wall - before, wall - after); // already on the later one
  const loOffset = offsetAt(lo, timezone);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, timezone) === loOffset) lo = mid;
    else hi = mid;
  }
  return hi;
}

function secondsOfDay(time: string): number {
  const m = HH_MM.exec(time);
  if (!m) throw new RangeError(`quiet hours time must be HH:MM, got ${JSON.stringify(time)}`);
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
}

/** The night that starts on the local day `year-month-day + dayShift`, as [start, end) instants. */
function night(window: QuietHoursWindow, day: LocalParts, dayShift: number): [number, number] {
  const start = secondsOfDay(window.start);
  const end = secondsOfDay(window.end);
  // Date.UTC normalises day overflow (31 + 1 → the 1st of next month); getUTC* ignore the host zone.
  const onDay = (shift: number, seconds: number): number => {
    const d = new Date(Date.UTC(day.year, day.month - 1, day.day + shift));
    return (
      zonedTimeToUtc(
        {
          year: d.getUTCFullYear(),
          month: d.getUTCMonth() + 1,
          day: d.getUTCDate(),
          hour: Math.floor(seconds / 3600),
          minute: Math.floor((seconds % 3600) / 60),
        },
        window.timezone,
      ) +
      (seconds % 60) * 1000
    );
  };
  return [onDay(dayShift, start), onDay(end < start ? dayShift + 1 : dayShift, end)];
}

/** The first instant at or after `at` that is outside the window (= `at` itself when not inside). Handles DST: if the local end time does not exist that day (spring forward gap), the window ends at the first instant after the gap; if it occurs twice (fall back), the window ends at the FIRST occurrence. */
export function quietHoursEnd(window: QuietHoursWindow, at: number): number {
  if (secondsOfDay(window.start) === secondsOfDay(window.end)) return at;
  let t = at;
  // A fall-back can stretch a night past the next one's start, so nights may chain; a few suffice.
  for (let i = 0; i < 4; i++) {
    const today = localParts(t, window.timezone);
    // Yesterday's night may still be running; tomorrow's only matters if a transition crossed midnight.
    const current = [-1, 0, 1]
      .map((shift) => night(window, today, shift))
      .find(([start, end]) => start <= t && t < end);
    if (!current) return t;
    t = current[1];
  }
  return t;
}

/** Whether the instant `at` (ms since epoch, UTC) falls inside the window, in the window's zone. */
export function isInQuietHours(window: QuietHoursWindow, at: number): boolean {
  return quietHoursEnd(window, at) !== at;
}

/** Validates 'HH:MM' (00:00–23:59) and an IANA zone; returns a list of problems (empty when fine), each { path: 'start' | 'end' | 'timezone', message }. */
export function validateQuietHours(window: {
  start: string;
  end: string;
  timezone: string;
}): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  for (const path of ['start', 'end'] as const) {
    const value: unknown = window[path];
    if (typeof value !== 'string' || !HH_MM.test(value)) {
      problems.push({
        path,
        message: `must be a time of day as HH:MM (00:00–23:59), optionally :SS, got ${JSON.stringify(value)}`,
      });
    }
  }
  if (!isTimeZone(window.timezone)) {
    problems.push({
      path: 'timezone',
      message: `must be an IANA time zone such as Europe/London, got ${JSON.stringify(window.timezone)}`,
    });
  }
  return problems;
}

function isTimeZone(timezone: unknown): boolean {
  // Checked first: Intl would take a missing zone to mean the host's.
  if (typeof timezone !== 'string') return false;
  try {
    formatter(timezone);
    return true;
  } catch {
    return false;
  }
}
