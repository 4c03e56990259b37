/**
 * SIGKILL at random points of random operations: `conveyor run "<op>"` children on the
 * sandbox's real bare repositories with one throwaway PostgreSQL as state, each killed at a
 * crash point (CONVEYOR_CRASH_AT: after-push, after-tag) or after a random delay, then a
 * recovery (a start: claims of the dead run out, the sweep resumes). After each run the
 * invariants hold: every operation final (or waiting for its gate), none stuck applying; each
 * deploy tag on its environment's head or an ancestor; exactly one tag per succeeded
 * operation, naming it; no tag for an operation that did not succeed; no lock left behind.
 * Two lanes (own repositories, own database) run side by side. Seeds are printed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ComposedRuntime as Runtime } from '../../src/compose.js';
import { compose } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load.js';
import { FINAL_STATES } from '../../src/core/operation.js';
import { systemClock } from '../../src/core/ports.js';
import { wireControllerless } from '../../src/server/wiring.js';
import { TokenStore } from '../../src/store/token-store.js';
import { git, isAncestor, pushCommit } from '../support/git-helpers.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { copySandbox } from '../support/runtime.js';
import { family, printFamilies, seededRandom, seedFor } from './support/summary.js';

const BIN = resolve(import.meta.dirname, '../../bin/conveyor.js');
const RUNS = Number(process.env.HOSTILE_KILL_RUNS ?? 50);
const LANES = 2;
const APPS = ['api', 'web'];
const POINTS = ['after-push', 'after-tag', undefined] as const;

interface Lane {
  root: string;
  configFile: string;
  runtime: Runtime;
  repo(app: string): string;
  /** Each user's personal API token (outside the sandbox `conveyor run` acts as a token's owner). */
  tokens: Record<string, string>;
}

describe('SIGKILL at random points', () => {
  let pg: TestPostgres;
  const lanes: Lane[] = [];
  const fam = family('SIGKILL runs');

  beforeAll(async () => {
    pg = await startPostgres();
    for (let i = 0; i < LANES; i++) {
      const root = mkdtempSync(join(tmpdir(), 'conveyor-hostile-kill-'));
      const sandbox = await copySandbox(root);
      const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, any>;
      raw.state = { url: await pg.createDatabase(`hostile_kill_${i}`) };
      const configFile = join(sandbox.dir, 'kill.yaml');
      writeFileSync(configFile, stringify(raw));
      // The recovering "start", in this process: the same compose + sweep as `conveyor run`.
      const runtime = await compose({
        config: parseConfig(stringify(raw)),
        baseDir: sandbox.dir,
        log: pino({ level: 'silent' }),
        env: {},
      });
      wireControllerless(runtime);
      const tokens: Record<string, string> = {};
      for (const user of ['U_DEMO', 'U_QA'])
        tokens[user] = (await new TokenStore(runtime.state.db, systemClock).create(user, 'sigkill')).token;
      lanes.push({ root, configFile, runtime, repo: (app) => join(sandbox.dir, 'repos', `${app}.git`), tokens });
    }
  }, 240_000);

  afterAll(async () => {
    for (const lane of lanes) {
      await lane.runtime.engine.stop();
      await lane.runtime.store.close();
      rmSync(lane.root, { recursive: true, force: true });
    }
    await pg?.stop();
    printFamilies();
  });

  /** One child: `conveyor run`, killed at `crashAt` or after `killAfterMs`. */
  function child(lane: Lane, text: string, user: string, crashAt: string | undefined, killAfterMs: number | null) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'silent',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    delete env.CONVEYOR_CRASH_AT;
    if (crashAt) env.CONVEYOR_CRASH_AT = crashAt;
    env.CONVEYOR_TOKEN = lane.tokens[user];
    return new Promise<{ code: number | null; signal: string | null; out: string }>((done) => {
      const proc = spawn(process.execPath, [BIN, 'run', text, '--config', lane.configFile], { cwd: lane.root, env });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (out += d));
      const timer = killAfterMs === null ? null : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      proc.on('exit', (code, signal) => {
        if (timer) clearTimeout(timer);
        done({ code, signal, out });
      });
    });
  }

  /** A random operation that has something to do most of the time. */
  async function pickOperation(lane: Lane, rnd: () => number): Promise<{ text: string; user: string }> {
    const app = APPS[Math.floor(rnd() * APPS.length)]!;
    const waiting = (await lane.runtime.store.operations({ app, states: ['awaiting-approval'] })).filter(
      (o) => o.env === 'staging',
    );
    const roll = rnd();
    if (waiting.length && roll < 0.3) return { text: `approve ${waiting[0]!.id}`, user: 'U_QA' };
    if (roll < 0.55) {
      pushCommit(lane.repo(app), 'develop', { message: 'a change to ship' });
      return { text: `promote ${app} qa`, user: 'U_DEMO' };
    }
    if (roll < 0.75) return { text: `rollback ${app} qa`, user: 'U_DEMO' };
    return { text: `promote ${app} staging`, user: 'U_DEMO' };
  }

  /** A start after the crash: the dead worker's claims run out, the sweep resumes. */
  async function recover(lane: Lane): Promise<void> {
    await lane.runtime.state.db.query('UPDATE operations SET claimed_until = $1 WHERE claimed_by IS NOT NULL', [
      new Date(Date.now() - 60_000).toISOString(),
    ]);
    await lane.runtime.engine.sweep();
  }

  /** Every invariant of the lane; returns what is wrong (empty when all hold). */
  async function violations(lane: Lane): Promise<string[]> {
    const wrong: string[] = [];
    const ops = await lane.runtime.store.operations({ limit: 10_000 });
    const byId = new Map(ops.map((o) => [o.id, o]));
    for (const op of ops) {
      if (!FINAL_STATES.has(op.state) && op.state !== 'awaiting-approval') wrong.push(`${op.id} stuck ${op.state}`);
    }
    for (const app of APPS) {
      const repo = lane.repo(app);
      const tags = git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/tags').split('\n').filter(Boolean);
      const tagged = new Map<string, string[]>();
      for (const tag of tags) {
        const env = tag.split('/')[0]!;
        const branch = env === 'development' ? 'develop' : env;
        const sha = git(repo, 'rev-parse', `${tag}^{commit}`);
        if (!isAncestor(repo, sha, git(repo, 'rev-parse', branch))) wrong.push(`${app} ${tag} is not on ${branch}`);
        const id = /Operation: (op_\w+)/.exec(git(repo, 'tag', '-l', '--format=%(contents)', tag))?.[1];
        if (id) tagged.set(id, [...(tagged.get(id) ?? []), tag]);
      }
      for (const [id, names] of tagged) {
        const op = byId.get(id);
        if (names.length !== 1) wrong.push(`${id} has ${names.length} tags: ${names.join(', ')}`);
        if (op?.state !== 'succeeded') wrong.push(`${id} is ${op?.state ?? 'unknown'} but tagged ${names.join(', ')}`);
      }
      for (const op of ops.filter((o) => o.app === app && o.state === 'succeeded')) {
        if (!tagged.has(op.id)) wrong.push(`${op.id} succeeded without a tag`);
      }
    }
    const open = new Set(ops.filter((o) => !FINAL_STATES.has(o.state)).map((o) => o.id));
    for (const lock of await lane.runtime.store.allLocks()) {
      if (!lock.manual && !open.has(lock.operationId ?? ''))
        wrong.push(`lock on ${lock.app}/${lock.env} left by ${lock.operationId}`);
    }
    return wrong;
  }

  it(`${RUNS} operations killed at random points end final or resumable, with Git and the store in agreement`, async () => {
    const seed = seedFor('SIGKILL');
    const perLane = Math.ceil(RUNS / LANES);
    const kills = { point: 0, delay: 0, finished: 0 };
    await Promise.all(
      lanes.map(async (lane, index) => {
        const rnd = seededRandom(seed + index);
        for (let run = 0; run < perLane; run++) {
          const { text, user } = await pickOperation(lane, rnd);
          const point = POINTS[Math.floor(rnd() * POINTS.length)];
          const delay = point ? null : 300 + Math.floor(rnd() * 4000);
          const res = await child(lane, text, user, point, delay);
          if (res.signal === 'SIGKILL') kills[point ? 'point' : 'delay']++;
          else kills.finished++;
          await recover(lane);
          const wrong = await violations(lane);
          fam.record(
            wrong.length === 0,
            `lane ${index} run ${run} "${text}" ${point ?? `kill after ${delay} ms`}: ${wrong.join('; ')}`,
          );
        }
      }),
    );
    console.log(
      `[hostile] SIGKILL: ${kills.point} killed at a crash point, ${kills.delay} after a random delay, ${kills.finished} finished first`,
    );
    expect(fam.lost, fam.losses.join('\n')).toBe(0);
    expect(fam.tried).toBeGreaterThanOrEqual(RUNS);
  }, 900_000);

  it('a CLI start after all of it answers, and finds nothing left to resume', async () => {
    const lane = lanes[0]!;
    const res = await child(lane, 'history', 'U_DEMO', undefined, null);
    expect(res.code, res.out).toBe(0);
    expect(await violations(lane)).toEqual([]);
  }, 120_000);
});
