/** Freeze windows: no change enters a frozen environment, except an --emergency rollback. */
import type { GateConfig } from '../../config/schema.js';
import { NotAllowedError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Weekday (sun…sat) and minutes since midnight of `now` on the wall clock of `timeZone`. */
function wallClock(now: Date, timeZone: string): { day: number; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    day: DAYS.indexOf(get('weekday').toLowerCase().slice(0, 3)),
    minutes: Number(get('hour')) * 60 + Number(get('minute')),
  };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * The reason of the freeze in force at `now`, or null. Weekly windows are read on the wall
 * clock of their time zone (default UTC); one whose `to` is before its `from` crosses midnight
 * and belongs to the day it starts on.
 */
export function activeFreeze(gate: GateConfig, now: Date): string | null {
  for (const f of gate.freezes) {
    if ('weekly' in f) {
      const { day, minutes } = wallClock(now, f.weekly.timeZone ?? 'UTC');
      const from = toMinutes(f.weekly.from);
      const to = toMinutes(f.weekly.to);
      const on = (d: number) => f.weekly.days.includes(DAYS[(d + 7) % 7] as never);
      const inside =
        from < to
          ? on(day) && minutes >= from && minutes <= to
          : (on(day) && minutes >= from) || (on(day - 1) && minutes <= to);
      if (inside) return f.reason;
    } else if (now >= new Date(f.from) && now <= new Date(f.to)) {
      return f.reason;
    }
  }
  return null;
}

export const freeze: GateRule = {
  name: 'freeze',
  check(ctx) {
    if (!ctx.gate) return pass();
    const reason = activeFreeze(ctx.gate, ctx.now);
    const rollback = Boolean(ctx.kind?.endsWith('rollback'));
    if (!reason || (rollback && ctx.emergency)) return pass();
    return refuse(
      new NotAllowedError(`${ctx.env} is frozen: ${reason}${rollback ? ' (an --emergency rollback is allowed)' : ''}`),
    );
  },
};
