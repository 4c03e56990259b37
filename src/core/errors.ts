/**
 * The error family. Each kind knows whether it is shown to the user, whether it may be
 * retried, and which exit code the CLI uses for it.
 */
export type ErrorCode = 'INPUT' | 'NOT_ALLOWED' | 'NOT_FOUND' | 'CONFLICT' | 'UPSTREAM' | 'CONFIG';

export abstract class ConveyorError extends Error {
  abstract readonly code: ErrorCode;
  /** Safe to retry with backoff (only upstream failures are). */
  readonly retryable: boolean = false;
  /** CLI exit code: 2 for usage errors, 1 for refusals and failures. */
  readonly exitCode: 1 | 2 = 1;
  /** A command that Conveyor would accept from this user instead, when there is one. */
  readonly suggestion?: string;
  constructor(message: string, options?: { cause?: unknown; suggestion?: string }) {
    super(message, options);
    this.name = new.target.name;
    if (options?.suggestion) this.suggestion = options.suggestion;
  }
}

/** Bad input typed by a user or sent by a client. Never retried. */
export class InputError extends ConveyorError {
  readonly code = 'INPUT' as const;
  override readonly exitCode = 2 as const;
  constructor(
    message: string,
    readonly usage?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Refused by policy (authorisation, gate, freeze, lock). Never retried. */
export class NotAllowedError extends ConveyorError {
  readonly code = 'NOT_ALLOWED' as const;
}

/** An app, environment, operation or version that does not exist. */
export class NotFoundError extends ConveyorError {
  readonly code = 'NOT_FOUND' as const;
}

/** The world moved under us (a branch moved, a lock is held, a CAS lost). */
export class ConflictError extends ConveyorError {
  readonly code = 'CONFLICT' as const;
}

/** A remote system failed or is unreachable. Retried with backoff. */
export class UpstreamError extends ConveyorError {
  readonly code = 'UPSTREAM' as const;
  override readonly retryable = true;
  constructor(
    readonly system: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The configuration is invalid. */
export class ConfigError extends ConveyorError {
  readonly code = 'CONFIG' as const;
  override readonly exitCode = 2 as const;
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

/** A journal plan found nothing to move (already there, nothing newer): said plainly, not an error reply. */
export class NothingToMove extends Error {}

export function isConveyorError(err: unknown): err is ConveyorError {
  return err instanceof ConveyorError;
}
