/**
 * The one logger shape everything below the composition root writes to: structured fields
 * first, then the message (pino's Logger fits it; so does a test's recording fake).
 */
export interface Log {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
