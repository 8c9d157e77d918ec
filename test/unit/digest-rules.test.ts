import { groupDigestItems, isDigestDue } from '../../activities/digest';
import type { DigestItem } from '../../db/queries/digests';

// Fixed instants for the pure due rule only: they are never compared to the clock.
const HARARE_8AM = '2026-11-25T06:00:00.000Z';
const LONDON_8AM = '2026-11-25T08:00:00.000Z';
const NEW_YORK_8AM = '2026-11-25T13:00:00.000Z';

describe('the digest due rule and grouping', () => {
  const daily = { events: ['ticket.assigned'], frequency: 'daily', hour: 8 };

  // isDigestDue is a pure function of the instant it is given: these fixed instants are calendar
  // inputs (a BST date, a Monday), never compared with the clock, so they may lie in the past.
  it('is due at the chosen local hour, in the recipient zone (UTC when none)', () => {
    expect(isDigestDue(daily, 'Africa/Harare', Date.parse(HARARE_8AM))).toBe(true);
    expect(isDigestDue(daily, 'Africa/Harare', Date.parse(LONDON_8AM))).toBe(false);
    expect(isDigestDue(daily, 'America/New_York', Date.parse(NEW_YORK_8AM))).toBe(true);
    expect(isDigestDue(daily, 'Europe/London', Date.parse('2026-07-01T07:00:00Z'))).toBe(true); // BST
    expect(isDigestDue(daily, null, Date.parse(LONDON_8AM))).toBe(true);
    expect(isDigestDue({ frequency: 'hourly' }, 'Asia/Kolkata', Date.parse(HARARE_8AM))).toBe(true);
    expect(isDigestDue(null, 'UTC', Date.parse(LONDON_8AM))).toBe(false);
  });

  it('is due weekly on the chosen local weekday and hour (0 = Sunday)', () => {
    const weekly = { frequency: 'weekly', weekday: 3, hour: 8 }; // 2026-11-25 is a Wednesday
    expect(isDigestDue(weekly, 'Africa/Harare', Date.parse(HARARE_8AM))).toBe(true);
    expect(isDigestDue(weekly, 'Africa/Harare', Date.parse('2026-11-26T06:00:00Z'))).toBe(false);
    // 2026-11-26 01:00 in Tokyo is Thursday though it is still Wednesday in UTC.
    expect(isDigestDue({ ...weekly, hour: 1 }, 'Asia/Tokyo', Date.parse('2026-11-25T16:00:00Z'))).toBe(false);
    expect(isDigestDue({ frequency: 'weekly' }, 'UTC', Date.parse('2026-11-23T08:00:00Z'))).toBe(true);
  });

  it('is not due again in a period that already had its digest (runs every 15 minutes)', () => {
    const daily = { frequency: 'daily', hour: 8 };
    const at = (iso: string) => Date.parse(iso);
    // Sent at 08:00 Harare (06:00 UTC): 08:15 and 08:45 are the same period, the next day is not.
    expect(isDigestDue(daily, 'Africa/Harare', at('2026-11-25T06:15:00Z'), at(HARARE_8AM))).toBe(false);
    expect(isDigestDue(daily, 'Africa/Harare', at('2026-11-25T06:45:00Z'), at(HARARE_8AM))).toBe(false);
    expect(isDigestDue(daily, 'Africa/Harare', at('2026-11-26T06:00:00Z'), at(HARARE_8AM))).toBe(true);
    const hourly = { frequency: 'hourly' };
    expect(isDigestDue(hourly, 'UTC', at('2026-11-25T08:59:59Z'), at('2026-11-25T08:00:00Z'))).toBe(false);
    expect(isDigestDue(hourly, 'UTC', at('2026-11-25T09:00:00Z'), at('2026-11-25T08:00:00Z'))).toBe(true);
    // Kolkata is UTC+05:30: its hours start at :30 UTC.
    expect(isDigestDue(hourly, 'Asia/Kolkata', at('2026-11-25T08:29:00Z'), at('2026-11-25T08:00:00Z'))).toBe(
      false,
    );
    expect(isDigestDue(hourly, 'Asia/Kolkata', at('2026-11-25T08:30:00Z'), at('2026-11-25T08:00:00Z'))).toBe(
      true,
    );
  });

  it('groups by event, one line per notification, at most 20 lines with a count of the rest', () => {
    const item = (i: number, event: string, notificationId = `n${i}`): DigestItem => ({
      id: String(i),
      notificationId,
      event,
      channel: 'email',
      data: { ticketId: String(i), title: `T${i}` },
      createdAt: HARARE_8AM,
    });
    const items = [
      ...Array.from({ length: 25 }, (_, i) => item(i, 'ticket.assigned')),
      item(100, 'job.failed'),
      item(101, 'job.failed', 'n100'), // the same notification on another channel
    ];
    const groups = groupDigestItems(items);
    expect(groups.map((g) => [g.event, g.count, g.lines.length, g.more])).toEqual([
      ['ticket.assigned', 25, 20, 5],
      ['job.failed', 1, 1, 0],
    ]);
    expect(groups[0]!.lines[0]).toBe('#0 — T0');
  });
});
