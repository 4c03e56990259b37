/**
 * Footprint: `conveyor serve` on the sandbox (no configuration; the process that `npm start`
 * runs), from spawn until it says it is serving (and /readyz answers 200), then its resident
 * memory after idling. Twice: the first start in a fresh folder (creates the sandbox's
 * repositories and its PGlite folder), then a restart in the same folder. Baseline: `node -e`
 * starting an empty HTTP server, measured the same way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, type Scenario } from '../lib/figure.js';
import { childEnv, MiB, procMemory, spawnChild } from '../lib/proc.js';
import { sleep } from '../lib/stats.js';

const CONVEYOR = fileURLToPath(new URL('../../bin/conveyor.js', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Opens the embedded store and nothing else: what PGlite's WASM Postgres costs on its own. */
const pgliteAlone = (dir: string) =>
  `import('@electric-sql/pglite').then(async ({ PGlite }) => { const pg = new PGlite(${JSON.stringify(dir)}); await pg.waitReady; await pg.query('select 1'); console.log('pglite open 0'); setInterval(() => {}, 1000); })`;
const EMPTY_SERVER =
  "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log('listening on http://127.0.0.1:' + this.address().port) })";

/** The environment of a sandbox start: nothing that would switch a real backend on. */
function sandboxEnv(): NodeJS.ProcessEnv {
  const env = childEnv();
  for (const key of Object.keys(env)) {
    if (/^(SLACK_|GITHUB_|SERVICENOW_|CONSUL_|JOURNAL_)|^(DATABASE_URL|PORT|HOST)$/.test(key)) delete env[key];
  }
  return env;
}

interface Start {
  readyMs: number;
  idleRss: number;
}

async function measureStart(command: string, args: string[], cwd: string, idleMs: number, readyPattern: RegExp): Promise<Start> {
  const t0 = performance.now();
  const child = spawnChild(command, args, { cwd, env: sandboxEnv() });
  try {
    const m = await child.waitForLine(readyPattern, 60_000);
    const readyMs = performance.now() - t0;
    const res = await fetch(`http://127.0.0.1:${m[1]}/readyz`).catch(() => null);
    if (args.includes('serve') && res?.status !== 200) throw new Error(`/readyz answered ${res?.status ?? 'nothing'} after the ready line`);
    await res?.text();
    await sleep(idleMs);
    const memory = procMemory(child.pid);
    if (!memory) throw new Error('cannot read /proc/<pid>/status');
    return { readyMs, idleRss: memory.rss };
  } finally {
    await child.stop();
  }
}

export const footprint: Scenario = {
  name: 'footprint',
  title: 'conveyor serve on the sandbox: time to ready, idle RSS',
  timeoutMs: (quick) => (quick ? 180_000 : 600_000),
  async run(ctx) {
    const idleMs = ctx.quick ? 1000 : 5000;
    const cwd = await mkdtemp(join(tmpdir(), 'conveyor-bench-serve-'));
    try {
      const serving = /serving the sandbox on http:\/\/[^:]+:(\d+)/;
      const serve = [CONVEYOR, 'serve', '--port', '0'];
      ctx.log('baseline: node -e empty HTTP server');
      const base = await measureStart(process.execPath, ['-e', EMPTY_SERVER], cwd, idleMs, /listening on http:\/\/[^:]+:(\d+)/);
      ctx.log('first start (creates the sandbox)');
      const first = await measureStart(process.execPath, serve, cwd, idleMs, serving);
      ctx.log('restart');
      const again = await measureStart(process.execPath, serve, cwd, idleMs, serving);
      // the full run also measures the embedded store alone, to say where the memory goes
      let pglite: Start | null = null;
      if (!ctx.quick) {
        ctx.log('PGlite alone on the same state folder');
        const dir = join(cwd, '.conveyor', 'sandbox', 'state');
        pglite = await measureStart(process.execPath, ['-e', pgliteAlone(dir)], REPO, idleMs, /pglite open (\d+)/);
      }
      return [
        figure({
          scenario: 'footprint',
          figure: 'time to ready, restart',
          unit: 'ms',
          value: again.readyMs,
          baseline: base.readyMs,
          check: { kind: 'max', max: 3000 },
          notes: 'spawn of `node bin/conveyor.js serve` (the compiled dist/ that `npm install` builds) until it prints that it serves and /readyz answers 200; sandbox and PGlite folder already there',
        }),
        figure({
          scenario: 'footprint',
          figure: 'time to ready, first start',
          unit: 'ms',
          value: first.readyMs,
          baseline: base.readyMs,
          check: { kind: 'max', max: 3000 },
          notes: 'the same in a fresh folder: creates the sandbox repositories and opens a new PGlite folder (migrations included)',
        }),
        figure({
          scenario: 'footprint',
          figure: 'idle RSS',
          unit: 'MiB',
          value: again.idleRss / MiB,
          baseline: base.idleRss / MiB,
          check: { kind: 'max', max: 200 },
          notes:
            `VmRSS ${idleMs / 1000} s after ready (restart); after the first start it was ${Math.round(first.idleRss / MiB)} MiB; ` +
            (pglite
              ? `PGlite alone (node -e opening the same state folder) takes ${Math.round(pglite.idleRss / MiB)} MiB and ${Math.round(pglite.readyMs)} ms`
              : 'PGlite alone is measured in the full run'),
        }),
      ];
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  },
};
