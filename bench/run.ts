/**
 * `npm run bench [-- --quick] [-- --only a,b] [-- --strict]`: runs each scenario in
 * bench/scenarios/, prints one table of figures (value, baseline measured in the same run,
 * ratio, target, pass) and writes bench/results/latest.json.
 *
 * --quick   smaller sizes, under a minute in all (each figure says which size it used)
 * --only    run only the named scenarios (comma-separated)
 * --strict  exit 1 when a target is missed (by default a miss is reported, and the exit is 0
 *           unless a scenario could not complete)
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Figure, failedScenario, type Prepared, type Scenario } from './lib/figure.js';
import { pgliteSeed, pgliteSeedNamed, seededPglite } from './lib/pglite-seed.js';
import { buildReport, renderTable, writeReport } from './lib/report.js';
import { makeSandboxTemplate } from './lib/sandbox-template.js';

/**
 * The scenarios in the order they run, each imported when the run starts (after the PGlite seed's
 * child has been started, so that its seconds overlap with this process loading the scenarios).
 */
const SCENARIOS: { name: string; load: () => Promise<Scenario> }[] = [
  { name: 'slack-ack', load: async () => (await import('./scenarios/slack-ack.js')).slackAck },
  { name: 'list-scale', load: async () => (await import('./scenarios/list-scale.js')).listAtScale },
  { name: 'promote', load: async () => (await import('./scenarios/promote.js')).promote },
  { name: 'promote-git', load: async () => (await import('./scenarios/promote-git.js')).promoteGit },
  { name: 'watch-latency', load: async () => (await import('./scenarios/watch-latency.js')).watchLatency },
  {
    name: 'registry-discovery',
    load: async () => (await import('./scenarios/registry-discovery.js')).registryDiscovery,
  },
  { name: 'journal-upload', load: async () => (await import('./scenarios/journal-upload.js')).journalUpload },
  { name: 'board', load: async () => (await import('./scenarios/board.js')).board },
  { name: 'footprint', load: async () => (await import('./scenarios/footprint.js')).footprint },
  // right after footprint: it runs its commands beside footprint's restarted serve (lib/serve-handoff.ts)
  { name: 'cli-list', load: async () => (await import('./scenarios/cli-list.js')).cliList },
  { name: 'sandbox-create', load: async () => (await import('./scenarios/sandbox-create.js')).sandboxCreate },
];

const RESULTS = fileURLToPath(new URL('./results/latest.json', import.meta.url));

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      strict: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
    );
    return 2;
  }
  // Git children must not read the user's Git configuration; Conveyor's own logs stay quiet.
  Object.assign(process.env, { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', LOG_LEVEL: 'silent' });
  const started = new Date();
  // One dump of the installation's migrated PGlite template, loaded by every in-memory store
  // of this run (this process's test runtimes and the children it starts): lib/pglite-seed.ts.
  // Made by a child while this process loads the scenarios; neither is measured.
  const t0 = performance.now();
  const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));
  const seed = pgliteSeed();
  seed.then(
    (file) =>
      process.stderr.write(
        `  PGlite seed: ${file.includes('.bench-seed-') ? 'kept from an earlier run' : 'made'} (+${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
      ),
    () => {}, // awaited below
  );
  // Each scenario's unmeasured set-up (lib/figure.ts, `prepare`) starts as soon as it is loaded;
  // all of it is done before the first measurement.
  const prepared: (Promise<Prepared> | undefined)[] = [];
  // One sandbox, copied wherever a scenario's set-up needs a fresh one (lib/sandbox-template.ts).
  const sandboxTemplate = makeSandboxTemplate();
  sandboxTemplate.catch(() => {}); // awaited below
  const named = pgliteSeedNamed(); // (the children a `prepare` starts inherit the seed's path)
  // The test runtimes (test/support/runtime.ts) take their stores from the seed and their sandboxes
  // from the template (set before the first measurement).
  const support = import('../test/support/runtime.js').then((runtime) => {
    runtime.useStoreSource(() => seededPglite());
    runtime.useSandboxTemplate(sandboxTemplate);
    return runtime;
  });
  support.catch(() => {}); // awaited below
  const loading = selected.map(async (s, i) => {
    const scenario = await s.load();
    await named;
    prepared[i] = scenario.prepare?.(quick);
    prepared[i]?.then(
      () => process.stderr.write(`  ${s.name}: prepared (+${((performance.now() - t0) / 1000).toFixed(1)} s)\n`),
      () => {}, // the scenario's run awaits it
    );
    return scenario;
  });
  let scenarios: Scenario[];
  try {
    scenarios = await Promise.all(loading);
    await support;
    await seed;
    await sandboxTemplate;
    await Promise.allSettled(prepared);
  } catch (err) {
    await Promise.allSettled(loading);
    await Promise.all(
      prepared.map((p) =>
        p?.then(
          (done) => done.stop(),
          () => {},
        ),
      ),
    );
    throw err;
  }
  process.stderr.write(
    `bench: scenarios loaded and prepared, PGlite seed and sandbox template ready (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  const figures: Figure[] = [];
  let crashed = 0;
  // The tear-downs of the scenarios run so far (ctx.afterward), finishing in the background: the
  // next scenario's set-up may overlap them, its first measurement may not (ctx.quiet).
  let tearingDown: Promise<unknown> = Promise.resolve();
  for (const [i, scenario] of scenarios.entries()) {
    if (scenario.name !== selected[i]!.name) throw new Error(`scenario ${selected[i]!.name} is named ${scenario.name}`);
    const t0 = performance.now();
    process.stderr.write(`bench: ${scenario.name} (${quick ? 'quick' : 'full'})…\n`);
    const log = (line: string) =>
      process.stderr.write(`  ${scenario.name} +${((performance.now() - t0) / 1000).toFixed(1)}s: ${line}\n`);
    const earlier = tearingDown;
    const afterward: Promise<unknown>[] = [];
    const ctx = {
      quick,
      log,
      next: scenarios[i + 1]?.name,
      afterward: (work: () => Promise<unknown>) => {
        afterward.push(
          Promise.resolve()
            .then(work)
            .catch((err: unknown) => log(`tear-down failed: ${err instanceof Error ? err.message : String(err)}`)),
        );
      },
      quiet: async () => {
        await earlier;
      },
    };
    if (!scenario.setUpBesideTearDown) await earlier;
    try {
      const run = scenario.run(ctx, prepared[i]);
      figures.push(...(await withTimeout(run, scenario.timeoutMs(quick), scenario.name)));
    } catch (err) {
      crashed++;
      figures.push(failedScenario(scenario, err));
      process.stderr.write(
        `  ${scenario.name}: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    if (afterward.length > 0) {
      const figuresAt = performance.now();
      void Promise.all(afterward).then(() =>
        process.stderr.write(
          `  ${scenario.name}: torn down in the background, ${((performance.now() - figuresAt) / 1000).toFixed(1)} s after its figures\n`,
        ),
      );
    }
    tearingDown = Promise.all([earlier, ...afterward]);
    process.stderr.write(`  ${scenario.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    // what is measured so far survives a run stopped later
    writeReport(RESULTS, buildReport(quick ? 'quick' : 'full', started, figures));
  }
  await tearingDown;
  const report = buildReport(quick ? 'quick' : 'full', started, figures);
  writeReport(RESULTS, report);
  process.stdout.write(`${renderTable(report)}\n\nwritten: ${RESULTS}\n`);
  if (crashed > 0) return 2;
  return values.strict && report.missed > 0 ? 1 : 0;
}

// Scenarios leave nothing running on purpose, but a stray handle must not keep the run alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
