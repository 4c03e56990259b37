/**
 * The safety net behind journal registration: when a watcher uploaded a journal but could not
 * register it (the bot was down past its retries), the object is in the store with its
 * metadata but no version exists. List the bucket, register what is missing, and say so.
 */
import type { Runtime } from '../core/runtime.js';
import type { JournalVersion } from '../store/state-store.js';
import { journalChain } from './chain.js';
import { checkJournalIntake, objectDisagreement, SHA256_HEX } from './intake-rules.js';
import { validTime } from './manual-register.js';
import { VERSION_ID } from './version-id.js';

/** Objects already reported as refused, so a refusal is said once per process, not every round. */
const refusedKeys = new WeakMap<Runtime, Set<string>>();

export async function reconcileJournalObjects(runtime: Runtime): Promise<JournalVersion[]> {
  const journal = runtime.config.journal;
  if (!journal) return [];
  const prefix = 'prefix' in journal.objects ? journal.objects.prefix : 'journals';
  const known = new Set((await runtime.journal.list({ limit: 100_000 })).map((v) => v.objectKey));
  const writable = new Set(journal.clusters.filter((c) => c.writable).map((c) => c.name));
  const registered: JournalVersion[] = [];
  for (const object of await runtime.objects.list(`${prefix}/`)) {
    if (known.has(object.key)) continue;
    const [, cluster, version, ...rest] = object.key.slice(prefix.length).split('/');
    if (!cluster || !version || rest.length !== 1 || !writable.has(cluster) || !VERSION_ID.test(version)) continue;
    const meta = Object.keys(object.metadata).length ? object : await runtime.objects.head(object.key);
    const m = meta?.metadata ?? {};
    if (m.version !== version || m.cluster !== cluster || !SHA256_HEX.test(m.sha256 ?? '')) continue;
    let file: string;
    try {
      file = decodeURIComponent(m.file ?? rest[0]!);
    } catch {
      file = rest[0]!;
    }
    const candidate = {
      version,
      cluster,
      file,
      size: object.size,
      sha256: m.sha256!,
      objectKey: object.key,
      ticket: m.ticket ?? null,
      mandators: (m.mandators ?? '').split(',').filter(Boolean),
      uploadedAt: meta?.lastModified ?? new Date().toISOString(),
      exportedAt: validTime(m['exported-at']),
      uploadedBy: 'reconciliation',
    };
    // The same rules as journal-watch and the version endpoint: nothing is registered here
    // that the endpoint would have refused.
    const problem =
      refusal(() => checkJournalIntake(candidate, journal.clusters)) ??
      (file === rest[0] ? null : 'the object key and the recorded file name differ') ??
      objectDisagreement(candidate, meta);
    if (problem) {
      const seen = refusedKeys.get(runtime) ?? new Set<string>();
      refusedKeys.set(runtime, seen);
      if (!seen.has(object.key)) {
        seen.add(object.key);
        runtime.log.warn(
          { objectKey: object.key, problem },
          'journal object not registered: it breaks the intake rules',
        );
        await runtime.store.audit('conveyor', 'journal.reconcile-refused', null, { objectKey: object.key, problem });
      }
      continue;
    }
    const { version: v, created } = await runtime.journal.register(candidate);
    if (!created) continue;
    registered.push(v);
    await runtime.store.audit('conveyor', 'journal.reconciled', null, { version, objectKey: object.key });
    const chain = journalChain(runtime);
    await chain.announce(
      `Journal ${version} was uploaded by ${cluster} but never registered; reconciliation registered it now`,
    );
    await chain.onRegistered(v, true);
  }
  return registered;
}

function refusal(check: () => void): string | null {
  try {
    check();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
