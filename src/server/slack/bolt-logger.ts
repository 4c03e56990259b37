/** Bolt's Logger interface over a pino-like logger (Bolt passes free-form arguments). */
import { type Logger, LogLevel } from '@slack/bolt';
import type { SlackAppLogger } from './surface.js';

export function toBoltLogger(log: SlackAppLogger): Logger {
  let level = LogLevel.INFO;
  const emit =
    (fn: keyof SlackAppLogger) =>
    (...msg: unknown[]) => {
      const err = msg.find((m) => m instanceof Error);
      const text = msg
        .filter((m) => !(m instanceof Error))
        .map((m) => (typeof m === 'string' ? m : safeJson(m)))
        .join(' ')
        .replace(/xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+/g, '[token]');
      log[fn](err ? { component: 'bolt', err } : { component: 'bolt' }, text);
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
