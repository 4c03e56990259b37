/**
 * A small, pure reference model of what Conveyor should do, written from the product rules
 * (SPEC §2: deploy history, rollback, gates, locks; §3.5: the journal chain), not from its code.
 * Versions are labels ("v3"); one environment (prod) has a gate that one tech-lead fills.
 *
 * Each `predict…` says what a command answers (ok / refused, and what became of the operation)
 * and, when it is accepted, changes the model as the real system should change.
 */
export const ENVS = ['development', 'qa', 'prod'] as const;
export type Env = (typeof ENVS)[number];
export const CHAIN = ['dev', 'qa', 'dit'] as const;
export type ChainEnv = (typeof CHAIN)[number];

export interface TagEntry {
  v: string;
  kind: 'promote' | 'rollback';
}

export interface Pending {
  env: Env;
  kind: 'promote' | 'rollback';
  v: string;
}

export interface Outcome {
  /** ok: done or accepted; refused: refused, or the operation failed; usage: not a valid request. */
  status: 'ok' | 'refused' | 'usage';
  /** What became of the operation: none was created, it waits, or it ran to the end. */
  op: 'none' | 'awaiting-approval' | 'succeeded' | 'failed' | 'rejected';
}

export interface JournalModel {
  registered: string[];
  pointer: Record<ChainEnv, string | null>;
  imports: Record<ChainEnv, { v: string; ok: boolean }[]>;
  bad: Record<ChainEnv, Set<string>>;
  /** The pointer moved (or a retry was asked) since the agent last tried: it imports now. */
  fresh: Record<ChainEnv, boolean>;
}

export interface Model {
  version: Record<Env, string>;
  /** Deploy tags per environment, oldest first. */
  tags: Record<Env, TagEntry[]>;
  /** Versions rolled back from and not deployed there again since. */
  bad: Record<Env, Set<string>>;
  locked: Record<Env, boolean>;
  pending: Pending | null;
  labels: number;
  journal: JournalModel;
}

export const gated = (env: Env) => env === 'prod';
const index = (env: Env) => ENVS.indexOf(env);
const none: Outcome = { status: 'ok', op: 'none' };
const refused: Outcome = { status: 'refused', op: 'none' };

export function initialModel(): Model {
  return {
    // the same start as the test's template repository: some history to walk through
    version: { development: 'v3', qa: 'v2', prod: 'v1' },
    tags: {
      development: [],
      qa: [
        { v: 'v1', kind: 'promote' },
        { v: 'v2', kind: 'promote' },
      ],
      prod: [{ v: 'v1', kind: 'promote' }],
    },
    bad: { development: new Set(), qa: new Set(), prod: new Set() },
    locked: { development: false, qa: false, prod: false },
    pending: null,
    labels: 3,
    journal: {
      registered: [],
      pointer: { dev: null, qa: null, dit: null },
      imports: { dev: [], qa: [], dit: [] },
      bad: { dev: new Set(), qa: new Set(), dit: new Set() },
      fresh: { dev: false, qa: false, dit: false },
    },
  };
}

export function newLabel(m: Model): string {
  m.labels += 1;
  return `v${m.labels}`;
}

/** The version lands: a deploy tag; a rollback marks the version it leaves. */
function land(m: Model, env: Env, kind: 'promote' | 'rollback', v: string): Outcome {
  const from = m.version[env];
  // Someone already brought the branch to this very version: nothing to tag, the operation fails.
  if (from === v) return { status: 'refused', op: 'failed' };
  m.version[env] = v;
  m.tags[env].push({ v, kind });
  m.bad[env].delete(v);
  if (kind === 'rollback') m.bad[env].add(from);
  return { status: 'ok', op: 'succeeded' };
}

function blocked(m: Model, env: Env): boolean {
  return m.locked[env] || m.pending?.env === env;
}

function accept(m: Model, env: Env, kind: 'promote' | 'rollback', v: string): Outcome {
  if (blocked(m, env)) return refused;
  if (gated(env)) {
    m.pending = { env, kind, v };
    return { status: 'ok', op: 'awaiting-approval' };
  }
  return land(m, env, kind, v);
}

/** `promote api [env] [--force]` typed by a developer, who holds no gate role. */
export function predictPromote(m: Model, target: Env | null, force: boolean): Outcome {
  const t = target ? index(target) : ENVS.findIndex((e, i) => i > 0 && m.version[e] !== m.version[ENVS[i - 1]!]);
  if (t === -1) return none;
  if (t === 0) return { status: 'usage', op: 'none' }; // the first stage takes pushes, not promotions
  const env = ENVS[t]!;
  const v = m.version[ENVS[t - 1]!];
  if (m.version[env] === v) return none;
  if (ENVS.slice(0, t + 1).some((e) => m.bad[e].has(v))) {
    // --force belongs to the target's approvers; a developer may use it only where nobody approves.
    if (!force || gated(env)) return refused;
  }
  return accept(m, env, 'promote', v);
}

/**
 * `rollback api env [--to …]`: `to` is the position of one of env's own deploy tags (oldest
 * first), or "foreign" for a tag of another environment.
 */
export function predictRollback(m: Model, env: Env, to: number | 'foreign' | null): Outcome {
  if (to === 'foreign') return refused;
  const current = m.version[env];
  let v: string | undefined;
  if (to !== null) {
    v = m.tags[env][to]!.v;
    if (v === current) return none;
  } else {
    v = [...m.tags[env]].reverse().find((e) => e.v !== current && !m.bad[env].has(e.v))?.v;
    if (!v) return none;
  }
  return accept(m, env, 'rollback', v);
}

export function predictApprove(m: Model): Outcome {
  const p = m.pending!;
  m.pending = null;
  return land(m, p.env, p.kind, p.v);
}

export function predictReject(m: Model): Outcome {
  m.pending = null;
  return { status: 'ok', op: 'rejected' };
}

export function predictLock(m: Model, env: Env, lock: boolean): Outcome {
  if (m.locked[env] === lock) return refused;
  m.locked[env] = lock;
  return none;
}

/** Somebody pushes a commit with a new version to a branch, outside Conveyor. */
export function handPush(m: Model, env: Env): string {
  const v = newLabel(m);
  m.version[env] = v;
  return v;
}

// ------------------------------------------------------------------ journal chain

const chainIndex = (env: ChainEnv) => CHAIN.indexOf(env);

/** Versions an environment imported successfully, the latest success first. */
function goodImports(j: JournalModel, env: ChainEnv): string[] {
  const out: string[] = [];
  for (const i of [...j.imports[env]].reverse()) if (i.ok && !out.includes(i.v)) out.push(i.v);
  return out;
}

function movePointer(j: JournalModel, env: ChainEnv, v: string, rollback: boolean): void {
  const from = j.pointer[env];
  j.pointer[env] = v;
  j.fresh[env] = true;
  j.bad[env].delete(v);
  if (rollback && from) j.bad[env].add(from);
}

/** What `journal promote env` would move to, or null when nothing moves (refusals are for --version only). */
export function journalPromoteTarget(j: JournalModel, env: ChainEnv): string | null {
  const i = chainIndex(env);
  let target: string | undefined;
  if (i === 0) {
    target = [...j.registered].reverse().find((v) => !j.bad.dev.has(v));
  } else {
    const bad = new Set(CHAIN.slice(0, i + 1).flatMap((e) => [...j.bad[e]]));
    target = goodImports(j, CHAIN[i - 1]!).find((v) => !bad.has(v));
  }
  return target && target !== j.pointer[env] ? target : null;
}

export function predictJournalPromote(m: Model, env: ChainEnv): Outcome {
  const target = journalPromoteTarget(m.journal, env);
  if (!target) return none;
  movePointer(m.journal, env, target, false);
  return { status: 'ok', op: 'succeeded' };
}

export function predictJournalRollback(m: Model, env: ChainEnv): Outcome {
  const j = m.journal;
  const target = goodImports(j, env).find((v) => v !== j.pointer[env] && !j.bad[env].has(v));
  if (!target) return none;
  movePointer(j, env, target, true);
  return { status: 'ok', op: 'succeeded' };
}

/** `journal seed`: the first environment the newest version, each next one a version older. */
export function predictJournalSeed(m: Model): Outcome {
  const j = m.journal;
  const moves = CHAIN.map((env, i) => [env, j.registered[Math.max(0, j.registered.length - 1 - i)]] as const).filter(
    ([env, v]) => v !== undefined && j.pointer[env] !== v,
  );
  if (!moves.length) return none;
  for (const [env, v] of moves) movePointer(j, env, v!, false);
  return { status: 'ok', op: 'succeeded' };
}

/** The dev modelling cluster exported a new version: registered, and the first environment follows it. */
export function journalExport(m: Model): string {
  const v = `2026.11.25-dev-modelling.${m.journal.registered.length + 1}`;
  m.journal.registered.push(v);
  m.journal.pointer.dev = v;
  m.journal.fresh.dev = true;
  return v;
}

/** An agent reports its import of the pointer; success moves an automatic next environment. */
export function journalImport(m: Model, env: ChainEnv, ok: boolean, autoNext: boolean): void {
  const j = m.journal;
  const v = j.pointer[env]!;
  j.imports[env].push({ v, ok });
  j.fresh[env] = false;
  const next = CHAIN[chainIndex(env) + 1];
  if (!ok || !next || !autoNext) return;
  const bad = new Set(CHAIN.slice(0, chainIndex(next) + 1).flatMap((e) => [...j.bad[e]]));
  if (bad.has(v) || j.pointer[next] === v) return;
  movePointer(j, next, v, false);
}

export function retryAllowed(j: JournalModel, env: ChainEnv): boolean {
  const last = j.imports[env].at(-1);
  return Boolean(j.pointer[env] && last && last.v === j.pointer[env] && !last.ok);
}

/** `journal retry env`: the agent tries the same version again. */
export function predictRetry(m: Model, env: ChainEnv): Outcome {
  if (!retryAllowed(m.journal, env)) return refused;
  m.journal.fresh[env] = true;
  return none;
}

/** The agent imports only a pointer it has not tried since it moved, and not one it imported last. */
export function agentWouldImport(j: JournalModel, env: ChainEnv): boolean {
  if (!j.pointer[env] || !j.fresh[env]) return false;
  const lastOk = [...j.imports[env]].reverse().find((i) => i.ok);
  return lastOk?.v !== j.pointer[env];
}
