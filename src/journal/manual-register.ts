/**
 * The manual correction of seed 000 §5.3: an uploaded journal whose registration failed is
 * registered by hand, `journal register <object-key>`, by someone holding one of the roles
 * `journal.registrars` names. The object is read back in full first: its size and SHA-256 must
 * equal what the uploader recorded, and it must pass the same intake rules as journal-watch and
 * the version endpoint.
 */
import { createHash } from 'node:crypto';
import { rolesOf } from '../core/approval-gate.js';
import { InputError, NotAllowedError, NotFoundError } from '../core/errors.js';
import type { Runtime } from '../core/runtime.js';
import type { JournalVersion } from '../store/state-store.js';
import { journalChain } from './chain.js';
import { checkJournalIntake, objectDisagreement, SHA256_HEX } from './intake-rules.js';
import { VERSION_ID } from './version-id.js';

/** An ISO time from object metadata, or null when absent or not a time. */
export function validTime(value: string | undefined): string | null {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export async function registerByHand(
  runtime: Runtime,
  objectKey: string,
  user: string,
): Promise<{ version: JournalVersion; created: boolean }> {
  const journal = runtime.config.journal;
  if (!journal) throw new NotFoundError('no journal pipeline is configured');
  const mine = await rolesOf(runtime, user);
  if (!journal.registrars.length)
    throw new NotAllowedError('nobody may register journals by hand: journal.registrars names no role');
  if (!journal.registrars.some((r) => mine.includes(r)))
    throw new NotAllowedError(`only ${journal.registrars.join(' or ')} may register journals by hand`);

  const prefix = 'prefix' in journal.objects ? journal.objects.prefix : 'journals';
  const [cluster, version, file, ...rest] = objectKey.startsWith(`${prefix}/`)
    ? objectKey.slice(prefix.length + 1).split('/')
    : [];
  if (!cluster || !version || !file || rest.length || !VERSION_ID.test(version)) {
    throw new InputError(
      `"${objectKey.slice(0, 80)}" is not a journal object key (${prefix}/<cluster>/<version>/<file>)`,
    );
  }
  const head = await runtime.objects.head(objectKey);
  if (!head) throw new NotFoundError(`no object ${objectKey} in the journal store`);
  const m = head.metadata;
  if (!SHA256_HEX.test(m.sha256 ?? ''))
    throw new NotAllowedError(
      `${objectKey} carries no sha256 from its upload; it cannot be checked, so it is not registered`,
    );

  // Read it back: the bytes must be the ones the uploader hashed.
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await runtime.objects.get(objectKey)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const sha256 = hash.digest('hex');
  if (size !== head.size || sha256 !== m.sha256) {
    throw new NotAllowedError(
      `${objectKey} read back as ${size} bytes with sha256 ${sha256.slice(0, 12)}…, not the ${head.size} bytes and ${m.sha256!.slice(0, 12)}… recorded at upload: not registered`,
    );
  }
  const candidate = {
    version,
    cluster,
    file,
    size,
    sha256,
    objectKey,
    ticket: m.ticket ?? null,
    mandators: (m.mandators ?? '').split(',').filter(Boolean),
    // The object's own times: its last modification is the upload, its metadata the export.
    uploadedAt: head.lastModified ?? runtime.clock.now().toISOString(),
    exportedAt: validTime(m['exported-at']),
    uploadedBy: `${user} by hand`,
  };
  checkJournalIntake(candidate, journal.clusters);
  const problem = objectDisagreement(candidate, head);
  if (problem) throw new NotAllowedError(`${objectKey}: ${problem}; not registered`);
  const registered = await runtime.journal.register(candidate);
  if (registered.created) {
    await runtime.store.audit(user, 'journal.registered-by-hand', null, { version, objectKey, sha256 });
    await journalChain(runtime).announce(
      `Journal ${version} registered by hand by ${user} (${file}, ${size} bytes, read back and checked)`,
    );
    await journalChain(runtime).onRegistered(registered.version, true);
  }
  return registered;
}
