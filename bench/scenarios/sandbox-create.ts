/**
 * The sandbox's first start: what `ensureSandbox` costs (the demo repositories of `api` and
 * `web`, and the image app `worker`: its application repository, OCI image layout and GitOps
 * repository), and the share of it that `worker` adds. Baseline: `api` and `web` alone, i.e.
 * everything but `worker` (the sandbox before it had one), measured in the same run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';
import { createWorkerDemo } from '../../src/sandbox/worker-demo.js';
import { figure, type Scenario } from '../lib/figure.js';
import { median, timed } from '../lib/stats.js';

export const sandboxCreate: Scenario = {
  name: 'sandbox-create',
  title: "the sandbox's first start: ensureSandbox, and worker's share of it",
  timeoutMs: (quick) => (quick ? 120_000 : 300_000),
  async run(ctx) {
    const samples = ctx.quick ? 3 : 9;
    process.env.GIT_CONFIG_GLOBAL ??= '/dev/null';
    const whole: number[] = [];
    const worker: number[] = [];
    for (let i = 0; i < samples; i++) {
      const root = mkdtempSync(join(tmpdir(), 'conveyor-bench-sandbox-'));
      const alone = mkdtempSync(join(tmpdir(), 'conveyor-bench-worker-'));
      try {
        whole.push((await timed(() => ensureSandbox(root))).ms);
        mkdirSync(join(alone, 'repos'));
        worker.push((await timed(async () => createWorkerDemo(alone))).ms);
      } finally {
        rmSync(root, { recursive: true, force: true });
        rmSync(alone, { recursive: true, force: true });
      }
    }
    const all = median(whole);
    const own = median(worker);
    return [
      figure({
        scenario: 'sandbox-create',
        figure: "worker's share of the sandbox's first start (median)",
        unit: 'ms',
        value: own,
        baseline: all - own,
        check: { kind: 'max', max: 1_000 },
        notes:
          `${samples} sandboxes; the whole ensureSandbox median ${Math.round(all)} ms; ` +
          'baseline: the rest of it (api and web); worker is two `git init` and two `git fast-import` processes and the OCI layout written by Node',
      }),
    ];
  },
};
