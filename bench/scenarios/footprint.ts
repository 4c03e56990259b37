/**
 * Footprint: `conveyor serve` on the sandbox (no configuration; the process that `npm start`
 * runs), from spawn until it says it is serving (and /readyz answers 200), then the resident
 * memory of the server and every process it started (the Git helper, its cat-files) after
 * idling. Three starts: a first start in a fresh folder as an installation has it after
 * `npm install` (its PGlite template made), a restart in the same folder, and a first start
 * where the installation has no template yet (the new folder is initialised by a child
 * process). Baseline: `node -e` starting an empty HTTP server, measured the same way. In the
 * full run each time to ready is the median of three starts of its kind (memory: the first's),
 * so a start right after another scenario, with the machine still busy, does not decide it. The quick
 * run leaves out the start without a template, PGlite alone and the RSS 25 s after ready (its
 * notes say so): their seconds are initdb's and the Git helper's idle time, whatever the size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preparePgliteTemplate } from '../../src/store/pglite-db.js';
import { figure, type Scenario } from '../lib/figure.js';
import { type Child, childEnv, MiB, spawnChild, treeRss } from '../lib/proc.js';
import { offerServe } from '../lib/serve-handoff.js';
import { median, sleep } from '../lib/stats.js';

const CONVEYOR = fileURLToPath(new URL('../../bin/conveyor.js', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Opens the embedded store and nothing else (with Conveyor's settings): what PGlite costs on its own. */
const pgliteAlone = (dir: string) =>
  `import('./src/store/pglite-db.ts').then(async ({ openPglite }) => { const db = await openPglite(${JSON.stringify(dir)}); await db.query('select 1'); console.log('pglite open 0'); setInterval(() => {}, 1000); })`;
const EMPTY_SERVER =
  "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log('listening on http://127.0.0.1:' + this.address().port) })";

/** The environment of a sandbox start: nothing that would switch a real backend on. */
function sandboxEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = childEnv(extra);
  for (const key of Object.keys(env)) {
    if (/^(SLACK_|GITHUB_|SERVICENOW_|CONSUL_|JOURNAL_)|^(DATABASE_URL|PORT|HOST)$/.test(key)) delete env[key];
  }
  return env;
}

interface Start {
  readyMs: number;
  /** The process and its descendants. */
  idleRss: number;
  ownRss: number;
  childrenRss: number;
  /** The same, `settleMs` later (the full run): the Git helper has gone after its idle time. */
  settled?: { total: number; own: number; children: number };
}

/** Past the Git helper's idle time (20 s by default), with a margin. */
const SETTLE_MS = 25_000;

/** Spawn → ready line (and /readyz 200 for serve): the running child and its time to ready. */
async function spawnReady(
  command: string,
  args: string[],
  cwd: string,
  readyPattern: RegExp,
  env: NodeJS.ProcessEnv,
): Promise<{ child: Child; readyMs: number }> {
  const t0 = performance.now();
  const child = spawnChild(command, args, { cwd, env });
  try {
    const m = await child.waitForLine(readyPattern, 120_000);
    const readyMs = performance.now() - t0;
    const res = await fetch(`http://127.0.0.1:${m[1]}/readyz`).catch(() => null);
    if (args.includes('serve') && res?.status !== 200)
      throw new Error(`/readyz answered ${res?.status ?? 'nothing'} after the ready line`);
    await res?.text();
    return { child, readyMs };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

async function measureStart(
  command: string,
  args: string[],
  cwd: string,
  idleMs: number,
  readyPattern: RegExp,
  env: NodeJS.ProcessEnv = sandboxEnv(),
  settleMs = 0,
  /** Takes the measured process instead of stopping it (once measured). */
  keep?: (child: Child) => void,
): Promise<Start> {
  const { child, readyMs } = await spawnReady(command, args, cwd, readyPattern, env);
  let kept = false;
  try {
    await sleep(idleMs);
    const memory = treeRss(child.pid);
    if (!memory) throw new Error('cannot read /proc/<pid>/status');
    let settled: Start['settled'];
    if (settleMs > 0) {
      await sleep(settleMs);
      settled = treeRss(child.pid) ?? undefined;
    }
    const start = { readyMs, idleRss: memory.total, ownRss: memory.own, childrenRss: memory.children, settled };
    if (keep) {
      keep(child);
      kept = true;
    }
    return start;
  } finally {
    if (!kept) await child.stop();
  }
}

/** Spawn → ready, then stop: a time-to-ready sample only. */
async function readyOnly(
  command: string,
  args: string[],
  cwd: string,
  readyPattern: RegExp,
  env: NodeJS.ProcessEnv = sandboxEnv(),
): Promise<number> {
  const { child, readyMs } = await spawnReady(command, args, cwd, readyPattern, env);
  await child.stop();
  return readyMs;
}

const mib = (n: number) => `${Math.round(n / MiB)} MiB`;
const split = (s: Start) => `${mib(s.ownRss)} server + ${mib(s.childrenRss)} its children`;

export const footprint: Scenario = {
  name: 'footprint',
  title: 'conveyor serve on the sandbox: time to ready, idle RSS',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  async run(ctx) {
    const idleMs = ctx.quick ? 1000 : 5000;
    const cwd = await mkdtemp(join(tmpdir(), 'conveyor-bench-serve-'));
    const cold = await mkdtemp(join(tmpdir(), 'conveyor-bench-serve-cold-'));
    const extra: string[] = [];
    // In the quick run, the restart's serve is the last start: once measured, it is left running
    // for cli-list when that runs next, the serve it runs its commands beside
    // (lib/serve-handoff.ts); it is stopped here otherwise. (The full run starts more after it,
    // none of which may have a serve beside it, so cli-list starts its own there.)
    let handed: Child | undefined;
    const handOff = ctx.next === 'cli-list' ? (child: Child) => (handed = child) : undefined;
    try {
      const serving = /serving the sandbox on http:\/\/[^:]+:(\d+)/;
      const serve = [CONVEYOR, 'serve', '--port', '0'];
      ctx.log("the installation's PGlite template (as `npm install` leaves it)");
      await preparePgliteTemplate();
      ctx.log('baseline: node -e empty HTTP server');
      const base = await measureStart(
        process.execPath,
        ['-e', EMPTY_SERVER],
        cwd,
        idleMs,
        /listening on http:\/\/[^:]+:(\d+)/,
      );
      ctx.log('first start (creates the sandbox)');
      const settleMs = ctx.quick ? 0 : SETTLE_MS;
      const first = await measureStart(process.execPath, serve, cwd, idleMs, serving, sandboxEnv(), settleMs);
      ctx.log('restart');
      const again = await measureStart(
        process.execPath,
        serve,
        cwd,
        idleMs,
        serving,
        sandboxEnv(),
        settleMs,
        ctx.quick ? handOff : undefined,
      );
      // Postgres's initdb in a child takes most of this start's seconds whatever the size, so
      // the quick run leaves it (and PGlite alone) to the full run, and says so in its notes.
      let noTemplate: Start | null = null;
      if (!ctx.quick) {
        ctx.log('first start without a template (the folder is initialised by a child)');
        noTemplate = await measureStart(
          process.execPath,
          serve,
          cold,
          idleMs,
          serving,
          sandboxEnv({ CONVEYOR_PGLITE_TEMPLATE: join(cold, 'no-template') }),
        );
      }
      // the full run also measures the embedded store alone, to say where the memory goes
      let pglite: Start | null = null;
      if (!ctx.quick) {
        ctx.log('PGlite alone on the same state folder');
        const dir = join(cwd, '.conveyor', 'sandbox', 'state');
        pglite = await measureStart(
          process.execPath,
          ['--import', 'tsx', '-e', pgliteAlone(dir)],
          REPO,
          idleMs,
          /pglite open (\d+)/,
        );
      }
      // The full run's times to ready are medians of three starts of each kind (a start right
      // after another scenario can find the machine still busy); the memory is the first's.
      const ready = { base: [base.readyMs], first: [first.readyMs], again: [again.readyMs], cold: [] as number[] };
      if (noTemplate) ready.cold.push(noTemplate.readyMs);
      if (!ctx.quick) {
        ctx.log('two more starts of each kind, for the medians of the times to ready');
        for (let i = 1; i <= 2; i++) {
          ready.base.push(
            await readyOnly(process.execPath, ['-e', EMPTY_SERVER], cwd, /listening on http:\/\/[^:]+:(\d+)/),
          );
          const fresh = await mkdtemp(join(tmpdir(), 'conveyor-bench-serve-'));
          extra.push(fresh);
          ready.first.push(await readyOnly(process.execPath, serve, fresh, serving));
          ready.again.push(await readyOnly(process.execPath, serve, cwd, serving));
          const coldAgain = await mkdtemp(join(tmpdir(), 'conveyor-bench-serve-cold-'));
          extra.push(coldAgain);
          ready.cold.push(
            await readyOnly(
              process.execPath,
              serve,
              coldAgain,
              serving,
              sandboxEnv({ CONVEYOR_PGLITE_TEMPLATE: join(coldAgain, 'no-template') }),
            ),
          );
        }
      }
      const samples = (xs: number[]) =>
        xs.length > 1 ? `; median of ${xs.length} starts (${xs.map((x) => Math.round(x)).join(', ')} ms)` : '';
      const where =
        'spawn of `node bin/conveyor.js serve` (dist/ when it is fresh) until it prints that it serves and /readyz answers 200';
      return [
        figure({
          scenario: 'footprint',
          figure: 'time to ready, first start',
          unit: 'ms',
          value: median(ready.first),
          baseline: median(ready.base),
          check: { kind: 'max', max: 3000 },
          notes: `${where}; a fresh folder: creates the sandbox repositories and its PGlite folder (a copy of the installation's template, then migrations)${samples(ready.first)}${ctx.quick ? '; the first start without a template is measured in the full run only' : ''}`,
        }),
        ...(noTemplate
          ? [
              figure({
                scenario: 'footprint',
                figure: 'time to ready, first start, no template',
                unit: 'ms',
                value: median(ready.cold),
                baseline: median(ready.base),
                // The first start as installed is the figure above: `npm install` (and the
                // image's build) makes the template, as the build list proposes. This is
                // an installation that skipped its install scripts; initdb alone takes ~4.5 s.
                check: { kind: 'report' },
                notes: `the same where the installation has no PGlite template yet (install scripts skipped: \`npm install --ignore-scripts\`): Postgres's initdb runs in a short-lived child (and leaves the template; initdb alone takes ~4.5 s here, so this start cannot be under 3 s)${samples(ready.cold)}; idle RSS after it ${mib(noTemplate.idleRss)} (${split(noTemplate)})`,
              }),
            ]
          : []),
        figure({
          scenario: 'footprint',
          figure: 'time to ready, restart',
          unit: 'ms',
          value: median(ready.again),
          baseline: median(ready.base),
          check: { kind: 'max', max: 3000 },
          notes: `${where}; sandbox and PGlite folder already there${samples(ready.again)}`,
        }),
        figure({
          scenario: 'footprint',
          figure: 'idle RSS, first start',
          unit: 'MiB',
          value: first.idleRss / MiB,
          baseline: base.idleRss / MiB,
          check: { kind: 'max', max: 200 },
          notes: `VmRSS ${idleMs / 1000} s after ready, the server and every process it started: ${split(first)}`,
        }),
        figure({
          scenario: 'footprint',
          figure: 'idle RSS, restart',
          unit: 'MiB',
          value: again.idleRss / MiB,
          baseline: base.idleRss / MiB,
          check: { kind: 'max', max: 200 },
          notes:
            `the same after a restart: ${split(again)}; ` +
            (pglite
              ? `PGlite alone (node opening the same state folder with Conveyor's settings) takes ${mib(pglite.idleRss)}`
              : 'PGlite alone is measured in the full run'),
        }),
        ...[
          ['first start', first],
          ['restart', again],
        ].flatMap(([what, start]) => {
          const settled = (start as Start).settled;
          return settled
            ? [
                figure({
                  scenario: 'footprint',
                  figure: `idle RSS ${SETTLE_MS / 1000} s after ready, ${what}`,
                  unit: 'MiB',
                  value: settled.total / MiB,
                  baseline: base.idleRss / MiB,
                  check: { kind: 'max', max: 200 },
                  notes: `the same ${SETTLE_MS / 1000} s after ready, once the Git helper has gone after its idle time (20 s): ${mib(settled.own)} server + ${mib(settled.children)} its children`,
                }),
              ]
            : [];
        }),
      ];
    } finally {
      const kept = handed;
      if (kept)
        offerServe({
          child: kept,
          cwd,
          stop: async () => {
            await kept.stop();
            await rm(cwd, { recursive: true, force: true });
          },
        });
      ctx.afterward(async () => {
        if (!kept) await rm(cwd, { recursive: true, force: true });
        await rm(cold, { recursive: true, force: true });
        for (const dir of extra) await rm(dir, { recursive: true, force: true });
      });
    }
  },
};
