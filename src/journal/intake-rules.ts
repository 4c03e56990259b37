/**
 * The one set of rules a journal must pass to become a version, whoever checks it:
 * `journal-watch` before it uploads, the version endpoint before it registers, and the
 * start-up reconciliation before it registers an object nobody registered. The three agree
 * because they call the same function; anything that fails here is refused for good
 * (rejected/ with a reason on the watcher's side, 4xx on the API's), never retried.
 */
import { InputError, NotAllowedError } from '../core/errors.js';
import { TICKET } from '../core/patterns.js';
import { checkMandatorScope, type JournalClusterRule, MANDATORS } from './journal-rules.js';

/**
 * A journal's file name: letters, digits, dot, underscore, dash; starting with a letter or
 * digit; at most 200 characters. No spaces, no unicode, no leading "-", no "$(…)", no newline:
 * the name travels into object keys, Slack messages and import command lines.
 */
export const JOURNAL_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** The largest journal accepted (S3's limit for one object is 5 TiB; ours is far below). */
export const MAX_JOURNAL_BYTES = 100 * 1024 ** 3;
export const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface JournalIntake {
  cluster: string;
  file: string;
  size: number;
  ticket?: string | null;
  mandators: readonly string[];
}

const shown = (name: string) => JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);

/** InputError unless the name is one a journal may have. */
export function checkJournalName(name: string): void {
  if (!JOURNAL_FILE_NAME.test(name) || name.includes('..')) {
    throw new InputError(
      `journal file name ${shown(name)} is not allowed: use 1–200 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

/** InputError for an empty journal or one over the size limit. */
export function checkJournalSize(size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0) throw new InputError('the journal is empty (0 bytes)');
  if (size > MAX_JOURNAL_BYTES) throw new InputError(`the journal is larger than ${MAX_JOURNAL_BYTES} bytes`);
}

/**
 * Every rule at once: name, size, ticket, mandators (known, at least one, within what the
 * cluster may export) and that the cluster may write at all. InputError or NotAllowedError.
 */
export function checkJournalIntake(j: JournalIntake, clusters: readonly JournalClusterRule[]): void {
  checkJournalName(j.file);
  checkJournalSize(j.size);
  if (j.ticket !== undefined && j.ticket !== null && !TICKET.test(j.ticket)) {
    throw new InputError(`change ticket ${shown(j.ticket)} is not a ticket such as CHG0001234`);
  }
  if (j.mandators.length === 0) throw new InputError('a journal names at least one mandator');
  const unknown = j.mandators.filter((m) => !(MANDATORS as readonly string[]).includes(m));
  if (unknown.length) throw new InputError(`unknown mandator ${unknown.map(shown).join(', ')}`);
  checkMandatorScope(j.cluster, j.mandators, clusters);
}

/** Whether an error from the checks above is a refusal for good (as opposed to a fault). */
export function isIntakeRefusal(err: unknown): boolean {
  return err instanceof InputError || err instanceof NotAllowedError;
}

/**
 * The object store's record of an upload, compared with what a registration claims: the
 * object exists, its size is the stated size, and the metadata written at upload names the
 * same sha256, version, cluster and mandators. Returns the first disagreement, or null.
 */
export function objectDisagreement(
  claimed: { size: number; sha256: string; version: string; cluster: string; mandators: readonly string[] },
  object: { size: number; metadata: Record<string, string> } | null,
): string | null {
  if (!object) return 'the object does not exist in the object store (upload it first)';
  const m = object.metadata;
  if (object.size !== claimed.size) return `the object holds ${object.size} bytes, not ${claimed.size}`;
  if (m.sha256 !== claimed.sha256) return 'the sha256 recorded at upload differs from the one stated';
  if (m.version !== claimed.version) return 'the object was uploaded for another version';
  if (m.cluster !== claimed.cluster) return 'the object was uploaded by another cluster';
  const sorted = (xs: readonly string[]) => [...xs].sort().join(',');
  if (sorted((m.mandators ?? '').split(',').filter(Boolean)) !== sorted(claimed.mandators)) {
    return 'the mandators recorded at upload differ from the ones stated';
  }
  return null;
}
