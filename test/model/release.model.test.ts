/**
 * Model-based test: random sequences of promote, rollback (with and without --to), approve,
 * reject, lock, unlock, dry-runs, diff advice, pushes by hand and the journal chain, run through
 * the command surface against real Git and the store, each step compared with the small pure
 * model in release-model.ts. After every step: Git equals the model (branch versions, deploy
 * tags in order, no history rewritten), the store equals Git, every dry-run predicted the real
 * outcome, every suggested command is accepted, rollback never returned to a version just
 * rolled back from, and the journal pointers equal the model's.
 *
 * `npm test` runs a bounded number of sequences; `npm run test:model` runs thousands
 * (MODEL_RUNS, MODEL_SECONDS). A failure prints the shrunk sequence and the seed; MODEL_SEED=<seed>
 * runs the same sequences again.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { PlainGitHost } from '../../src/adapters/git-plain.js';
import { journalChain } from '../../src/server/wiring.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import {
  agentWouldImport,
  CHAIN,
  type ChainEnv,
  ENVS,
  type Env,
  handPush,
  initialModel,
  journalExport,
  journalImport,
  journalPromoteTarget,
  type Model,
  type Outcome,
  predictApprove,
  predictJournalPromote,
  predictJournalRollback,
  predictJournalSeed,
  predictLock,
  predictPromote,
  predictReject,
  predictRetry,
  predictRollback,
  retryAllowed,
} from './release-model.js';

const RUNS = Number(process.env.MODEL_RUNS ?? 12);
const JOURNAL_RUNS = RUNS * 16;
const SECONDS = Number(process.env.MODEL_SECONDS ?? 60);
/** Runs a failure's sequences again: the seed it printed (MODEL_SEED=-38302035). */
const REPLAY = process.env.MODEL_SEED ? { seed: Number(process.env.MODEL_SEED) } : {};
const BRANCH: Record<Env, string> = { development: 'develop', qa: 'qa', prod: 'prod' };
const SEED_TAGS: Record<Env, number> = { development: 0, qa: 2, prod: 1 };
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (repo: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', repo, ...args], { encoding: 'utf8', env: gitEnv }).trim();

// ---------------------------------------------------------------- the real system under test

interface Real {
  t: TestRuntime;
  /** This sequence's app (a fresh repository). */
  app: string;
  repo: string;
  /** Every head each branch had: all must stay ancestors of the branch (no history rewritten). */
  seen: Record<Env, string[]>;
  /** The operation waiting for approval. */
  pending: string | null;
  /** Journal sequences leave the app alone: its Git checks are skipped. */
  journalOnly: boolean;
}

let template: string | null = null;
const cleanups: string[] = [];

/**
 * A bare repository with some history to walk through: v1 → v2 → v3 on develop, qa at v2 (deploy
 * tags for v1 and v2), prod at v1 (a tag for v1). release-model.ts starts from the same state.
 */
function makeTemplate(): string {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-model-template-'));
  cleanups.push(dir);
  const repo = join(dir, 'app.git');
  execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=develop', repo], { env: gitEnv });
  const v1 = commitVersion(repo, 'v1', null);
  const v2 = commitVersion(repo, 'v2', v1);
  const v3 = commitVersion(repo, 'v3', v2);
  const refs: [string, string][] = [
    ['develop', v3],
    ['qa', v2],
    ['prod', v1],
  ];
  for (const [branch, sha] of refs) git(repo, 'update-ref', `refs/heads/${branch}`, sha);
  const tags: [string, string][] = [
    ['qa/2026.11.01.1', v1],
    ['qa/2026.11.02.1', v2],
    ['prod/2026.11.03.1', v1],
  ];
  for (const [name, sha] of tags) {
    git(
      repo,
      '-c',
      'user.name=Seed',
      '-c',
      'user.email=seed@example.com',
      'tag',
      '-a',
      name,
      sha,
      '-m',
      `Deploy of api\n\nSource-Commit: ${sha}\nOperation: seed\nKind: promote\nRequested-By: U_DEMO\nApproved-By: (seed)`,
    );
  }
  return repo;
}

/** A commit whose whole tree is version.txt = label (same label, same tree), on top of `parent`. */
function commitVersion(repo: string, label: string, parent: string | null): string {
  const blob = execFileSync('git', ['--git-dir', repo, 'hash-object', '-w', '--stdin'], {
    input: `${label}\n`,
    encoding: 'utf8',
    env: gitEnv,
  }).trim();
  const tree = execFileSync('git', ['--git-dir', repo, 'mktree'], {
    input: `100644 blob ${blob}\tversion.txt\n`,
    encoding: 'utf8',
    env: gitEnv,
  }).trim();
  return git(
    repo,
    '-c',
    'user.name=Hand',
    '-c',
    'user.email=hand@example.com',
    'commit-tree',
    tree,
    ...(parent ? ['-p', parent] : []),
    '-m',
    `Version ${label}`,
  );
}

const versionAt = (repo: string, rev: string) => git(repo, 'show', `${rev}:version.txt`);

/**
 * One runtime serves every sequence (building one costs seconds); each sequence gets a fresh
 * repository under a new app name, and an empty journal chain.
 */
let shared: Promise<TestRuntime> | null = null;
let sequences = 0;

function sharedRuntime(): Promise<TestRuntime> {
  shared ??= makeRuntime({
    edit: (c) => {
      c.environments = [
        { name: 'development', branch: 'develop' },
        { name: 'qa', branch: 'qa' },
        { name: 'prod', branch: 'prod', enters: 'pull-request', gate: { roles: { 'tech-lead': 1 } } },
      ];
      c.apps = [];
      c.roles = { developer: { users: ['U_DEMO'] }, 'tech-lead': { users: ['U_LEAD'] } };
      c.journal.chain = [{ env: 'dev', auto: true }, { env: 'qa', auto: true }, { env: 'dit' }];
    },
  });
  return shared;
}

async function setup(journalOnly: boolean): Promise<{ model: Model; real: Real }> {
  template ??= makeTemplate();
  const t = await sharedRuntime();
  const app = `app${++sequences}`;
  const repo = join(mkdtempSync(join(tmpdir(), 'conveyor-model-')), 'app.git');
  cleanups.push(join(repo, '..'));
  if (!journalOnly) {
    cpSync(template, repo, { recursive: true });
    t.runtime.config.apps.push({ name: app, repo, targets: {} });
    t.runtime.git.set(app, new PlainGitHost(new GitMirror({ url: repo, dir: join(t.dir, 'mirrors', `${app}.git`) })));
  }
  // An empty journal chain: no versions, imports, pointers or journal operations.
  const db = t.runtime.state.db;
  await db.query("DELETE FROM approvals WHERE operation_id IN (SELECT id FROM operations WHERE app = 'journal')");
  await db.query("DELETE FROM locks WHERE app = 'journal'");
  await db.query("DELETE FROM operations WHERE app = 'journal'");
  for (const table of ['journal_imports', 'journal_versions', 'kv']) await db.query(`DELETE FROM ${table}`);
  return {
    model: initialModel(),
    real: { t, app, repo, seen: { development: [], qa: [], prod: [] }, pending: null, journalOnly },
  };
}

// ---------------------------------------------------------------- checks after every step

/** Every branch head and deploy tag with the version it holds: one for-each-ref and one cat-file. */
function readRepo(repo: string): {
  heads: Map<string, { sha: string; version: string }>;
  tags: Map<string, { name: string; type: string; version: string }[]>;
} {
  const refs = git(
    repo,
    'for-each-ref',
    '--sort=version:refname',
    '--format=%(refname) %(objecttype) %(objectname)',
    'refs/heads/',
    'refs/tags/',
  )
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ') as [string, string, string]);
  const versions = execFileSync('git', ['--git-dir', repo, 'cat-file', '--batch'], {
    input: refs.map(([, , sha]) => `${sha}:version.txt\n`).join(''),
    encoding: 'utf8',
    env: gitEnv,
  });
  // Each answer: "<sha> blob <size>\n<content>\n", the content being "<label>\n".
  const lines = versions.split('\n');
  const at = (i: number) => lines[i * 3 + 1]!;
  const heads = new Map<string, { sha: string; version: string }>();
  const tags = new Map<string, { name: string; type: string; version: string }[]>();
  refs.forEach(([ref, type, sha], i) => {
    const version = at(i);
    if (ref.startsWith('refs/heads/')) heads.set(ref.slice('refs/heads/'.length), { sha, version });
    else {
      const name = ref.slice('refs/tags/'.length);
      const env = name.split('/')[0]!;
      tags.set(env, [...(tags.get(env) ?? []), { name, type, version }]);
    }
  });
  return { heads, tags };
}

async function checkInvariants(m: Model, r: Real): Promise<void> {
  for (const env of CHAIN) {
    expect((await r.t.runtime.kv.get(`journal_version/${env}`))?.value ?? null, `journal pointer of ${env}`).toBe(
      m.journal.pointer[env],
    );
  }
  if (r.journalOnly) return;
  const { heads, tags } = readRepo(r.repo);
  for (const env of ENVS) {
    const head = heads.get(BRANCH[env])!;
    expect(head.version, `${env} runs the model's version`).toBe(m.version[env]);
    // No history rewritten: the head seen last is an ancestor of this one (and so are all before it).
    const last = r.seen[env].at(-1);
    if (last && last !== head.sha) {
      expect(
        execFileSyncOk(r.repo, 'merge-base', '--is-ancestor', last, head.sha),
        `${env}: ${last.slice(0, 8)} is still in its history`,
      ).toBe(true);
    }
    if (last !== head.sha) r.seen[env].push(head.sha);
    const envTags = tags.get(env) ?? [];
    expect(
      envTags.map((tag) => tag.version),
      `${env}: deploy tags, oldest first`,
    ).toEqual(m.tags[env].map((e) => e.v));
    expect(
      envTags.every((tag) => tag.type === 'tag'),
      `${env}: every deploy tag is annotated`,
    ).toBe(true);
    // the store agrees with Git: one succeeded operation per deploy tag Conveyor wrote
    const done = await r.t.runtime.store.operations({ app: r.app, env, states: ['succeeded'], limit: 1000 });
    expect(done.length, `${env}: succeeded operations`).toBe(m.tags[env].length - SEED_TAGS[env]);
  }
  const waiting = await r.t.runtime.store.operations({ app: r.app, states: ['awaiting-approval'] });
  expect(waiting.map((o) => o.env)).toEqual(m.pending ? [m.pending.env] : []);
  const manual = (await r.t.runtime.store.allLocks())
    .filter((l) => l.manual && l.app === r.app)
    .map((l) => l.env)
    .sort();
  expect(manual).toEqual(ENVS.filter((e) => m.locked[e]).sort());
}

function execFileSyncOk(repo: string, ...args: string[]): boolean {
  try {
    execFileSync('git', ['--git-dir', repo, ...args], { env: gitEnv, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Type a command as `user`; "api" in the text stands for this sequence's app. */
const say = (r: Real, text: string, user: string) => {
  r.t.clock.advance(1_000); // time passes between commands: operations are ordered by when they were made
  return r.t.run(text.replace(/\bapi\b/, r.app), user);
};

type Reply = Awaited<ReturnType<TestRuntime['run']>>;

/** What the sequences did, printed at the end: a model test that never reaches a case tests nothing. */
const tally = new Map<string, number>();
const count = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);

function expectOutcome(reply: Reply, want: Outcome, what: string): void {
  count(
    `${what
      .split(' ')
      .slice(0, what.startsWith('journal') ? 2 : 1)
      .join(' ')}: ${want.status}/${want.op}`,
  );
  expect({ status: reply.status, op: reply.operation?.state ?? 'none' }, `${what}: ${reply.title}`).toEqual(want);
}

/** The dry-run first: it must predict the real answer, then the real one must match the model. */
async function dryThenReal(r: Real, text: string, user: string, want: Outcome): Promise<Reply> {
  const dry = await say(r, `${text} --dry-run`, user);
  const real = await say(r, text, user);
  expect(dry.status, `dry-run of "${text}" predicts the real status (${dry.title} / ${real.title})`).toBe(real.status);
  if (real.status !== 'ok') expect(dry.title).toBe(real.title);
  if (!real.operation) expect(dry.title).toBe(real.title); // "nothing to …" both times
  expectOutcome(real, want, text);
  await checkSuggestions(r, real, user);
  return real;
}

/** Every command Conveyor suggests is accepted as typed: its dry-run passes (and dry-runs tell the truth). */
async function checkSuggestions(r: Real, reply: Reply, user: string): Promise<void> {
  const suggestions = ((reply.data as { suggestions?: string[] } | undefined)?.suggestions ?? []) as string[];
  for (const s of suggestions.slice(0, 1)) {
    if (!/^(promote|rollback) /.test(s)) continue;
    const dry = await say(r, `${s} --dry-run`, user);
    expect(dry.status, `suggested "${s}" is accepted: ${dry.title}`).toBe('ok');
    expect(dry.title).toMatch(/^dry run: /);
  }
}

// ---------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, Real>;

class PushByHand implements Cmd {
  constructor(readonly env: Env) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const label = handPush(m, this.env);
    const head = git(r.repo, 'rev-parse', BRANCH[this.env]);
    git(r.repo, 'update-ref', `refs/heads/${BRANCH[this.env]}`, commitVersion(r.repo, label, head), head);
    await checkInvariants(m, r);
  }
  toString = () => `push by hand to ${this.env}`;
}

class Promote implements Cmd {
  constructor(
    readonly env: Env | null,
    readonly force: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const want = predictPromote(m, this.env, this.force);
    const reply = await dryThenReal(r, this.toString(), 'U_DEMO', want);
    if (reply.operation?.state === 'awaiting-approval') r.pending = reply.operation.id;
    await checkInvariants(m, r);
  }
  toString = () => `promote api${this.env ? ` ${this.env}` : ''}${this.force ? ' --force' : ''}`;
}

class Rollback implements Cmd {
  /** `to`: a fraction picking one of env's deploy tags, "foreign" for another env's tag, or null. */
  constructor(
    readonly env: Env,
    readonly to: number | 'foreign' | null,
  ) {}
  check = (m: Readonly<Model>) =>
    this.to === null ||
    (this.to === 'foreign' ? ENVS.some((e) => e !== this.env && m.tags[e].length) : m.tags[this.env].length > 0);
  private text = '';
  async run(m: Model, r: Real) {
    let to: number | 'foreign' | null = null;
    let flag = '';
    if (this.to === 'foreign') {
      const other = ENVS.find((e) => e !== this.env && m.tags[e].length)!;
      flag = ` --to ${git(r.repo, 'for-each-ref', '--sort=version:refname', '--count=1', '--format=%(refname:short)', `refs/tags/${other}/`)}`;
      to = 'foreign';
    } else if (this.to !== null) {
      to = Math.min(m.tags[this.env].length - 1, Math.floor(this.to * m.tags[this.env].length));
      const tags = git(
        r.repo,
        'for-each-ref',
        '--sort=version:refname',
        '--format=%(refname:short)',
        `refs/tags/${this.env}/`,
      ).split('\n');
      flag = ` --to ${tags[to]}`;
    }
    const before = { version: m.version[this.env], bad: new Set(m.bad[this.env]) };
    const want = predictRollback(m, this.env, to);
    this.text = `rollback api ${this.env}${flag}`;
    const reply = await dryThenReal(r, this.text, 'U_DEMO', want);
    if (reply.operation?.state === 'awaiting-approval') r.pending = reply.operation.id;
    if (reply.operation?.state === 'succeeded' && this.to === null) {
      const now = versionAt(r.repo, BRANCH[this.env]);
      expect(now).not.toBe(before.version);
      expect(before.bad.has(now), `rollback returned to ${now}, which ${this.env} had rolled back from`).toBe(false);
    }
    await checkInvariants(m, r);
  }
  toString = () => this.text || `rollback api ${this.env}${this.to === null ? '' : ` --to ${this.to}`}`;
}

class Approve implements Cmd {
  check = (m: Readonly<Model>) => m.pending !== null;
  async run(m: Model, r: Real) {
    const want = predictApprove(m);
    const reply = await say(r, `approve ${r.pending}`, 'U_LEAD');
    expectOutcome(reply, want, 'approve');
    r.pending = null;
    await checkInvariants(m, r);
  }
  toString = () => 'approve (as the tech-lead)';
}

class Reject implements Cmd {
  check = (m: Readonly<Model>) => m.pending !== null;
  async run(m: Model, r: Real) {
    const want = predictReject(m);
    const reply = await say(r, `reject ${r.pending} not now`, 'U_LEAD');
    expectOutcome(reply, want, 'reject');
    r.pending = null;
    await checkInvariants(m, r);
  }
  toString = () => 'reject (as the tech-lead)';
}

class Lock implements Cmd {
  constructor(
    readonly env: Env,
    readonly lock: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const want = predictLock(m, this.env, this.lock);
    expectOutcome(await say(r, this.toString(), 'U_LEAD'), want, this.toString());
    await checkInvariants(m, r);
  }
  toString = () => (this.lock ? `lock api ${this.env} release` : `unlock api ${this.env}`);
}

class Diff implements Cmd {
  constructor(
    readonly src: Env,
    readonly dst: Env,
  ) {}
  check = () => this.src !== this.dst;
  async run(m: Model, r: Real) {
    const reply = await say(r, this.toString(), 'U_DEMO');
    expect(reply.status).toBe('ok');
    if (m.version[this.src] === m.version[this.dst])
      expect(reply.title).toBe(`${this.dst} is in sync with ${this.src}`);
    await checkSuggestions(r, reply, 'U_DEMO');
  }
  toString = () => `diff ${this.src} ${this.dst} api`;
}

class JournalExport implements Cmd {
  check = (m: Readonly<Model>) => m.journal.registered.length < 6;
  async run(m: Model, r: Real) {
    const version = journalExport(m);
    const { version: v, created } = await r.t.runtime.journal.register({
      version,
      cluster: 'dev-modelling',
      file: 'rates.dat',
      size: version.length,
      sha256: createHash('sha256').update(version).digest('hex'),
      ticket: null,
      mandators: ['tech-head'],
      objectKey: `journals/dev-modelling/${version}/rates.dat`,
      uploadedAt: new Date().toISOString(),
    } as never);
    await journalChain(r.t.runtime).onRegistered(v, created);
    await checkInvariants(m, r);
  }
  toString = () => 'journal export from dev-modelling';
}

class JournalImport implements Cmd {
  constructor(
    readonly env: ChainEnv,
    readonly ok: boolean,
  ) {}
  check = (m: Readonly<Model>) => agentWouldImport(m.journal, this.env);
  async run(m: Model, r: Real) {
    const version = m.journal.pointer[this.env]!;
    count(`journal import: ${this.ok ? 'ok' : 'failed'}`);
    r.t.clock.advance(1_000);
    journalImport(m, this.env, this.ok, this.env === 'dev'); // qa follows dev automatically; dit is promoted by hand
    await journalChain(r.t.runtime).onImport({
      env: this.env,
      version,
      ok: this.ok,
      exitCode: this.ok ? 0 : 1,
      durationMs: m.journal.imports[this.env].length,
      outputTail: '',
      error: this.ok ? null : 'exit 1',
    });
    await checkInvariants(m, r);
  }
  toString = () => `the ${this.env} agent reports its import: ${this.ok ? 'ok' : 'failed'}`;
}

class JournalMove implements Cmd {
  constructor(
    readonly kind: 'promote' | 'rollback' | 'retry' | 'seed',
    readonly env: ChainEnv,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const predict = {
      promote: predictJournalPromote,
      rollback: predictJournalRollback,
      retry: predictRetry,
      seed: predictJournalSeed,
    }[this.kind];
    expectOutcome(await say(r, this.toString(), 'U_DEMO'), predict(m, this.env), this.toString());
    await checkInvariants(m, r);
  }
  toString = () => (this.kind === 'seed' ? 'journal seed' : `journal ${this.kind} ${this.env}`);
}

class JournalStatus implements Cmd {
  check = () => true;
  async run(m: Model, r: Real) {
    const reply = await say(r, 'journal status', 'U_DEMO');
    for (const s of (reply.data as { suggestions?: string[] }).suggestions ?? []) {
      const [, verb, env] = s.split(' ') as [string, string, ChainEnv];
      if (verb === 'promote')
        expect(journalPromoteTarget(m.journal, env), `suggested "${s}" moves something`).not.toBeNull();
      else expect(retryAllowed(m.journal, env), `suggested "${s}" is allowed`).toBe(true);
    }
    expect(reply.text).not.toContain('automatically');
  }
  toString = () => 'journal status';
}

const env = fc.constantFrom<Env>(...ENVS);
const chainEnv = fc.constantFrom<ChainEnv>(...CHAIN);
/** Weighted so that sequences build deploy histories worth rolling back through. */
const appCommands = [
  {
    weight: 3,
    arbitrary: fc.constantFrom<Env>('development', 'development', 'qa', 'prod').map((e) => new PushByHand(e)),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.constantFrom<Env | null>(null, null, 'qa', 'qa', 'prod', 'prod', 'development'), fc.boolean())
      .map(([e, force]) => new Promote(e, force)),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.constantFrom<Env>('development', 'qa', 'qa', 'prod', 'prod'),
        fc.oneof(
          { weight: 4, arbitrary: fc.constant(null) },
          fc.constant('foreign' as const),
          fc.double({ min: 0, max: 0.999, noNaN: true }),
        ),
      )
      .map(([e, to]) => new Rollback(e, to)),
  },
  { weight: 3, arbitrary: fc.constant(new Approve()) },
  { weight: 1, arbitrary: fc.constant(new Reject()) },
  { weight: 1, arbitrary: fc.tuple(env, fc.boolean()).map(([e, lock]) => new Lock(e, lock)) },
  { weight: 1, arbitrary: fc.tuple(env, env).map(([a, b]) => new Diff(a, b)) },
].flatMap(({ weight, arbitrary }) => Array.from({ length: weight }, () => arbitrary as fc.Arbitrary<Cmd>));

const journalCommands = [
  { weight: 3, arbitrary: fc.constant(new JournalExport()) },
  {
    weight: 7,
    arbitrary: fc.tuple(chainEnv, fc.boolean(), fc.boolean()).map(([e, ok1, ok2]) => new JournalImport(e, ok1 || ok2)),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'promote' as const,
          'promote' as const,
          'rollback' as const,
          'rollback' as const,
          'retry' as const,
          'seed' as const,
        ),
        chainEnv,
      )
      .map(([k, e]) => new JournalMove(k, e)),
  },
  { weight: 1, arbitrary: fc.constant(new JournalStatus()) },
].flatMap(({ weight, arbitrary }) => Array.from({ length: weight }, () => arbitrary as fc.Arbitrary<Cmd>));

async function runSequences(
  commands: fc.Arbitrary<Cmd>[],
  runs: number,
  seconds: number,
  journalOnly = false,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 24, size: 'large' }), async (cmds) => {
      const { model, real } = await setup(journalOnly);
      await fc.asyncModelRun(() => ({ model, real }), cmds);
    }),
    { numRuns: runs, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false, verbose: 1, ...REPLAY },
  );
}

describe('Conveyor against its reference model', () => {
  afterAll(async () => {
    console.log(
      `model run: ${sequences} sequences; ${[...tally]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
    );
    await (await shared)?.close();
    for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
  });

  it(
    `promote, rollback, approve, reject, lock, diff and pushes by hand agree with the model (${RUNS} sequences, at most ${SECONDS}s)`,
    async () => {
      await runSequences(appCommands, RUNS, SECONDS);
    },
    (SECONDS + 120) * 1000,
  );

  it(
    `the journal chain agrees with the model (${JOURNAL_RUNS} sequences, at most ${SECONDS}s)`,
    async () => {
      await runSequences(journalCommands, JOURNAL_RUNS, SECONDS, true);
    },
    (SECONDS + 120) * 1000,
  );
});
