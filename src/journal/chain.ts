/**
 * The journal promotion chain (seed 001): the dev modelling cluster's newest version seeds the
 * first import environment's key; each later environment moves, one step at a time, to a
 * version its predecessor imported successfully — automatically or by `journal promote`,
 * through operations and gates like apps. Keys move only by compare-and-set.
 */
import { ConflictError, InputError, NotAllowedError, NotFoundError, NothingToMove } from '../core/errors.js';
import { isJournalOperation, type JournalOperation, type JournalPlan, type Operation } from '../core/operation.js';
import type { KindRunner, OperationEngine } from '../core/operation-engine.js';
import type { Runtime } from '../core/runtime.js';
import type { JournalImport, JournalVersion } from '../store/state-store.js';
import { compareVersions } from './version-id.js';

export { NothingToMove } from '../core/errors.js';

export class JournalChain implements KindRunner<JournalOperation> {
  constructor(private readonly runtime: Runtime) {}

  get chain() {
    return this.runtime.config.journal?.chain ?? [];
  }

  keyFor(env: string): string {
    return `${this.runtime.config.journal?.keyPrefix ?? 'journal_version/'}${env}`;
  }

  position(env: string): number {
    const i = this.chain.findIndex((c) => c.env === env);
    if (i === -1)
      throw new InputError(
        `"${env}" is not in the journal chain (${this.chain.map((c) => c.env).join(' → ') || 'none configured'})`,
      );
    return i;
  }

  /** Post a line to the journal channel (never throws). */
  async announce(text: string): Promise<void> {
    return this.notify(text);
  }

  private async notify(text: string): Promise<void> {
    const channel = this.runtime.config.journal?.channel;
    if (!channel || !this.runtime.notifier) return;
    await this.runtime.notifier
      .post({ channel, text })
      .catch((err) => this.runtime.log.warn({ err: (err as Error).message }, 'journal notice not posted'));
  }

  /** A version was registered: seed the first environment when it comes from the seeding cluster. */
  async onRegistered(v: JournalVersion, created: boolean): Promise<void> {
    if (!created) return;
    await this.notify(
      `Journal ${v.version} registered from ${v.cluster} (${v.file}, ${v.size} bytes, sha256 ${v.sha256.slice(0, 12)}…)`,
    );
    const first = this.chain[0];
    if (!first || v.cluster !== (this.runtime.config.journal?.seedFrom ?? 'dev-modelling')) return;
    const key = this.keyFor(first.env);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.runtime.kv.get(key);
      if (current && compareVersions(current.value, v.version) >= 0) return;
      if (await this.runtime.kv.put(key, v.version, { cas: current?.modifyIndex ?? 0 })) {
        await this.runtime.store.audit('conveyor', 'journal.seeded', null, { key, version: v.version });
        await this.notify(`${key} → ${v.version}`);
        return;
      }
    }
    throw new ConflictError(`${key} kept changing; ${v.version} was not seeded`);
  }

  /** An agent reported an import: record it, announce it, drive the next step. */
  async onImport(report: Omit<JournalImport, 'at'>): Promise<void> {
    const { created } = await this.runtime.journal.recordImport(report);
    if (!created) return;
    const outcome = report.ok
      ? `imported ${report.version} in ${Math.round(report.durationMs / 1000)}s`
      : `FAILED to import ${report.version} (exit ${report.exitCode ?? '—'}): ${report.error ?? ''}\n${report.outputTail.slice(-500)}`;
    await this.notify(`Journal ${report.env}: ${outcome}`);
    if (!report.ok) return;
    const i = this.chain.findIndex((c) => c.env === report.env);
    const next = i === -1 ? undefined : this.chain[i + 1];
    if (!next) return;
    if (!next.auto) {
      await this.notify(`Next step: journal promote ${next.env} --version ${report.version}`);
      return;
    }
    try {
      const plan = await this.planPromote(next.env, report.version);
      await this.runtime.engine.request({
        // No idempotency key: the report itself was deduplicated above, and the same version may
        // rightly move on again later (after a rollback upstream, say).
        kind: 'journal-promote',
        app: 'journal',
        env: next.env,
        plan,
        requester: 'conveyor',
        idempotencyKey: null,
        emergency: false,
        source: 'controller',
      });
    } catch (err) {
      if (!(err instanceof NothingToMove))
        await this.notify(`Journal ${next.env} was not promoted: ${(err as Error).message}`);
    }
  }

  /**
   * Versions an environment rolled back from (its succeeded journal rollbacks), unless it took
   * them again on purpose later (a promotion or a seed): they do not move on along the chain.
   */
  async rolledBackFrom(env: string): Promise<Set<string>> {
    const ops = await this.runtime.store.operations({
      app: 'journal',
      states: ['succeeded'],
      kinds: ['journal-promote', 'journal-rollback', 'journal-seed'],
      limit: 1000,
    });
    const bad = new Set<string>();
    for (const op of [...ops].reverse().filter(isJournalOperation)) {
      const { plan } = op;
      const moves = plan.moves ?? (op.env === env ? [plan] : []);
      for (const move of moves.filter((m) => ('env' in m ? m.env : env) === env)) {
        bad.delete(move.toVersion);
        if (op.kind === 'journal-rollback' && move.fromVersion) bad.add(move.fromVersion);
      }
    }
    return bad;
  }

  /**
   * `journal seed`: bring every environment of the chain to a defined state in one step, from
   * the registered versions of the seeding cluster: the first environment the newest, each next
   * one a version older (or its `seedOffset`). Keys already there are left alone.
   */
  async planSeed(): Promise<JournalPlan> {
    const seedFrom = this.runtime.config.journal?.seedFrom ?? 'dev-modelling';
    const versions = (await this.runtime.journal.list({ cluster: seedFrom, limit: 500 }))
      .map((v) => v.version)
      .sort(compareVersions);
    if (!versions.length)
      throw new NothingToMove(`no journal version from ${seedFrom} is registered yet: nothing to seed`);
    const moves: NonNullable<JournalPlan['moves']> = [];
    const short: string[] = [];
    for (const [i, link] of this.chain.entries()) {
      const offset = link.seedOffset ?? i;
      const target = versions[Math.max(0, versions.length - 1 - offset)]!;
      const key = this.keyFor(link.env);
      const current = await this.runtime.kv.get(key);
      if (current?.value === target) continue;
      moves.push({
        env: link.env,
        key,
        fromVersion: current?.value ?? null,
        toVersion: target,
        index: current?.modifyIndex ?? 0,
      });
      short.push(`${link.env}=${target}`);
    }
    if (!moves.length)
      throw new NothingToMove('every environment of the chain already points where seeding would put it');
    // The operation is gated like a promotion into the most guarded environment it moves.
    const weight = (env: string) =>
      Object.values(this.chain.find((c) => c.env === env)?.gate?.roles ?? {}).reduce((a, b) => a + b, 0);
    const guarded = moves.reduce((a, b) => (weight(b.env) > weight(a.env) ? b : a));
    return {
      env: guarded.env,
      key: guarded.key,
      fromVersion: moves.map((m) => `${m.env}=${m.fromVersion ?? '(unset)'}`).join(', '),
      toVersion: short.join(', '),
      index: guarded.index,
      reason: 'seed',
      moves,
    };
  }

  /** Rolled back from in this environment or any before it in the chain. */
  private async badBefore(i: number): Promise<Map<string, string>> {
    const where = new Map<string, string>();
    for (const link of this.chain.slice(0, i + 1))
      for (const v of await this.rolledBackFrom(link.env)) if (!where.has(v)) where.set(v, link.env);
    return where;
  }

  async planPromote(env: string, version?: string): Promise<JournalPlan> {
    const i = this.position(env);
    const key = this.keyFor(env);
    const current = await this.runtime.kv.get(key);
    let target: string | undefined;
    if (i === 0) {
      const seedFrom = this.runtime.config.journal?.seedFrom ?? 'dev-modelling';
      const known = await this.runtime.journal.list({ cluster: seedFrom, limit: 500 });
      if (version && !known.some((k) => k.version === version))
        throw new NotFoundError(`no journal version ${version} from ${seedFrom}`);
      const bad = await this.rolledBackFrom(env);
      if (version && bad.has(version))
        throw new NotAllowedError(`${version} was rolled back from in ${env}; it does not come back by itself`);
      target =
        version ??
        known
          .map((k) => k.version)
          .filter((v) => !bad.has(v))
          .sort(compareVersions)
          .at(-1);
    } else {
      const previous = this.chain[i - 1]!.env;
      const good = await this.runtime.journal.goodImports(previous);
      if (version && !good.includes(version)) {
        throw new NotAllowedError(
          `${previous} has not imported ${version} successfully; ${env} follows ${previous} one step behind`,
        );
      }
      const bad = await this.badBefore(i);
      if (version && bad.has(version)) {
        throw new NotAllowedError(
          `${version} was rolled back from in ${bad.get(version)}, so it does not move on to ${env}`,
        );
      }
      // The newest version the previous environment imported and still stands behind.
      target = version ?? good.find((v) => !bad.has(v));
      if (!target) {
        throw new NothingToMove(
          good.length
            ? `every version ${previous} imported was rolled back from; ${env} stays where it is`
            : `${previous} has not imported any version successfully yet`,
        );
      }
    }
    if (!target) throw new NothingToMove('no journal version is registered yet');
    if (current?.value === target) {
      // Say why a newer version does not come: it was rolled back from on the way.
      const skipped =
        !version && i > 0 ? (await this.runtime.journal.goodImports(this.chain[i - 1]!.env))[0] : undefined;
      const bad = skipped && skipped !== target ? await this.badBefore(i) : null;
      if (skipped && bad?.has(skipped)) {
        throw new NothingToMove(
          `${env} stays at ${target}: ${skipped} was rolled back from in ${bad.get(skipped)} and does not move on; a newer version will`,
        );
      }
      throw new NothingToMove(`${env} already points at ${target}`);
    }
    if (!(await this.runtime.journal.get(target)))
      throw new NotFoundError(`no journal version ${target} is registered`);
    return {
      env,
      key,
      fromVersion: current?.value ?? null,
      toVersion: target,
      index: current?.modifyIndex ?? 0,
      reason: null,
    };
  }

  async planRollback(env: string, to?: string): Promise<JournalPlan> {
    this.position(env);
    const key = this.keyFor(env);
    const current = await this.runtime.kv.get(key);
    const good = await this.runtime.journal.goodImports(env);
    const bad = await this.rolledBackFrom(env);
    // Walk back in time: never to the version just left, nor one rolled back from before.
    const target = to ?? good.find((v) => v !== current?.value && !bad.has(v));
    if (!target)
      throw new NothingToMove(
        `${env} has no earlier successfully imported version (not itself rolled back from) to go back to`,
      );
    if (to && !good.includes(to))
      throw new NotAllowedError(`${env} never imported ${to} successfully; roll back only to a version it imported`);
    if (current?.value === target) throw new NothingToMove(`${env} already points at ${target}`);
    return {
      env,
      key,
      fromVersion: current?.value ?? null,
      toVersion: target,
      index: current?.modifyIndex ?? 0,
      reason: 'rollback',
    };
  }

  /**
   * Run the failed import of an environment's current pointer again: rewrite the key with the
   * same value (compare-and-set), so its agent sees a new index and tries once more.
   */
  async retry(env: string): Promise<string> {
    this.position(env);
    const key = this.keyFor(env);
    const current = await this.runtime.kv.get(key);
    if (!current) throw new NothingToMove(`${key} is not set: there is no import to retry`);
    const [last] = await this.runtime.journal.imports(env, 1);
    if (!last || last.version !== current.value)
      throw new NothingToMove(`${env} has not reported an import of ${current.value} yet; its agent is still on it`);
    if (last.ok) throw new NothingToMove(`${env} imported ${current.value} successfully; there is nothing to retry`);
    if (!(await this.runtime.kv.put(key, current.value, { cas: current.modifyIndex }))) {
      throw new ConflictError(`${key} changed meanwhile; look at journal status again`);
    }
    return current.value;
  }

  /**
   * `journal.seedOnEmpty`: at serve's start, when no key of the chain is set and versions are
   * registered, ask for a seed as Conveyor (through the same gate as one typed by a person).
   * Returns the operation id, or null when there was nothing to do.
   */
  async seedIfEmpty(): Promise<string | null> {
    for (const link of this.chain) if (await this.runtime.kv.get(this.keyFor(link.env))) return null;
    let plan: JournalPlan;
    try {
      plan = await this.planSeed();
    } catch (err) {
      if (err instanceof NothingToMove) return null;
      throw err;
    }
    const op = await this.runtime.engine.request({
      kind: 'journal-seed',
      app: 'journal',
      env: plan.env,
      plan,
      requester: 'conveyor',
      idempotencyKey: null,
      emergency: false,
      source: 'controller',
    });
    await this.notify(`The journal chain was empty: seeding it (${plan.toVersion}), ${op.id} is ${op.state}`);
    return op.id;
  }

  /** KindRunner: move the key (each key of a seed) by compare-and-set; a crash after a write is harmless. */
  async apply(op: JournalOperation, _engine: OperationEngine): Promise<'done' | 'cancelled'> {
    const { plan } = op;
    if (plan.moves) {
      for (const move of plan.moves) await this.moveKey(op, { ...plan, ...move });
      await this.runtime.store.audit('conveyor', 'journal.seeded', op.id, {
        moves: plan.moves.map((m) => `${m.key}=${m.toVersion}`),
      });
      await this.notify(`Journal chain seeded: ${plan.toVersion}`);
      return 'done';
    }
    await this.moveKey(op, plan);
    return 'done';
  }

  private async moveKey(op: Operation, plan: Pick<JournalPlan, 'key' | 'fromVersion' | 'toVersion'>): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.runtime.kv.get(plan.key);
      if (current?.value === plan.toVersion) return;
      if ((current?.value ?? null) !== plan.fromVersion) {
        throw new ConflictError(`${plan.key} moved to ${current?.value ?? '(none)'} while ${op.id} waited; ask again`);
      }
      if (await this.runtime.kv.put(plan.key, plan.toVersion, { cas: current?.modifyIndex ?? 0 })) return;
    }
    throw new ConflictError(`${plan.key} keeps changing; nothing was overwritten`);
  }
}

const chains = new WeakMap<Runtime, JournalChain>();

/** The one JournalChain of a runtime (commands, routes and the reconciliation share it). */
export function journalChain(runtime: Runtime): JournalChain {
  let chain = chains.get(runtime);
  if (!chain) {
    chain = new JournalChain(runtime);
    chains.set(runtime, chain);
  }
  return chain;
}
