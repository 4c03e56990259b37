/**
 * One pass over a journal's bytes on their way to the object store: a pass-through stream that
 * hashes (SHA-256) and counts what flows through it and, at the end, compares both with what was
 * expected. On a difference it fails instead of ending, so the consumer — a multipart upload —
 * never sees the end of its body and never completes the object: it aborts it.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface ExpectedContent {
  size: number;
  sha256: string;
}

/** The bytes read were not the expected ones (a short, long or different file). */
export class ContentMismatch extends Error {
  constructor(
    readonly expected: ExpectedContent,
    /** Bytes read; when the stream stopped at the first byte too many, expected.size + 1. */
    readonly bytes: number,
    /** The SHA-256 of the bytes read; null when reading stopped early (too many bytes). */
    readonly sha256: string | null,
  ) {
    super(
      bytes !== expected.size
        ? `${bytes > expected.size ? 'more than' : 'only'} ${Math.min(bytes, expected.size)} bytes where ${expected.size} were expected`
        : `sha256 ${sha256} where ${expected.sha256} was expected`,
    );
    this.name = 'ContentMismatch';
  }
}

export interface HashingTap {
  stream: Transform;
  /** Set once the stream failed on a mismatch. */
  mismatch(): ContentMismatch | null;
}

export function hashingTap(expected: ExpectedContent): HashingTap {
  const hash = createHash('sha256');
  let bytes = 0;
  let mismatch: ContentMismatch | null = null;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > expected.size) {
        mismatch = new ContentMismatch(expected, expected.size + 1, null);
        done(mismatch);
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const sha256 = hash.digest('hex');
      if (bytes !== expected.size || sha256 !== expected.sha256) {
        mismatch = new ContentMismatch(expected, bytes, sha256);
        done(mismatch);
        return;
      }
      done();
    },
  });
  return { stream, mismatch: () => mismatch };
}
