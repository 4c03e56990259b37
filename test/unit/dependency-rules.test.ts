/**
 * The dependency rule (docs/adr/0001-dependency-rule.md): the core (`src/core/`) and the
 * commands (`commands/`) reach the outside world only through the ports the core owns.
 *
 * - No file under `src/core/` or `commands/` imports `src/store`, `src/adapters`, `src/server`,
 *   `src/controller`, `src/compose*`, or `src/journal` other than its pure rule modules
 *   (PURE_JOURNAL below, which must obey this same rule themselves), nor an SDK
 *   (`@slack/*`, `@octokit/*`, `@kubernetes/*`, `pg`, `@electric-sql/*`, `@aws-sdk/*`, `consul`).
 * - No import cycles among those files.
 *
 * Type-only imports count (`import type`, `import('…').T`): a row type of the store in the core is
 * still the core knowing the store. The graph comes from dependency-cruiser over the sources.
 *
 * A ratchet: KNOWN lists the violations that existed when the rule was written. The test fails on
 * any violation that is not listed, and on any listed one that no longer exists, so the list only
 * shrinks and always says what is left. Fixed one? Delete its line.
 */
import { cruise, type ICruiseResult, type IModule } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { beforeAll, describe, expect, it } from 'vitest';

/** src/journal modules that hold rules only (they import zod, src/core and each other). */
const PURE_JOURNAL = ['src/journal/intake-rules.ts', 'src/journal/journal-rules.ts', 'src/journal/version-id.ts'];

const FORBIDDEN_RINGS = /^src\/(store|adapters|server|controller|journal)\/|^src\/compose/;
const FORBIDDEN_SDKS = /^(@slack|@octokit|@kubernetes|@electric-sql|@aws-sdk)\/|^(pg|consul)(\/|$)/;

/**
 * Today's violations: `file → import` (an outer ring or an SDK) and `cycle: file → import` (an
 * edge inside an import cycle). May only shrink. Written against commit bc36879 and brought up to
 * 78cfb59; the cycle through core/runtime.ts ended when Runtime.engine became the Engine port
 * (src/core/ports/engine.ts), and the journal commands' imports when the chain became a port
 * (src/core/ports/journal-chain.ts). None is left. Written while the core moves behind ports (src/core/ports/), a composition root (src/compose/)
 * and registries of gates and steps (#18).
 */
const KNOWN: readonly string[] = [];

const isInner = (path: string) => /^(src\/core|commands)\//.test(path) || PURE_JOURNAL.includes(path);

/** Why `from` may not import `to` (resolved path, or the bare name of a package), or undefined. */
function ruleBroken(from: string, to: string, specifier: string): string | undefined {
  if (!isInner(from)) return undefined;
  if (FORBIDDEN_SDKS.test(specifier)) return `${from} → ${specifier.match(/^(@[^/]+\/[^/]+|[^/]+)/)?.[0]}`;
  if (FORBIDDEN_RINGS.test(to) && !PURE_JOURNAL.includes(to)) return `${from} → ${to}`;
  return undefined;
}

/** Edges of the inner graph that lie on a cycle (both ends in one strongly connected component). */
function cycleEdges(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const component = new Map<string, number>();
  const stack: string[] = [];
  let next = 0;
  let components = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (!component.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
        component.set(w, components);
      }
      components++;
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  const edges: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (from !== to && component.get(from) === component.get(to)) edges.push(`cycle: ${from} → ${to}`);
    }
  }
  return edges;
}

describe('dependency rule: core and commands depend only inwards', () => {
  let modules: IModule[];
  let violations: string[];

  beforeAll(async () => {
    const tsConfig = extractTSConfig('tsconfig.json');
    const result = await cruise(
      ['src/core', 'commands', ...PURE_JOURNAL],
      {
        tsPreCompilationDeps: true,
        // read the guarded files only; an outer ring or a package is a leaf
        doNotFollow: { path: ['node_modules', '^src/(?!core/|journal/(intake-rules|journal-rules|version-id)\\.ts$)'] },
        tsConfig: { fileName: 'tsconfig.json' },
        // resolve packages as Node's ESM loader does (several SDKs are ESM-only)
        enhancedResolveOptions: { conditionNames: ['import', 'types', 'node', 'default'], exportsFields: ['exports'] },
      },
      {},
      { tsConfig },
    );
    modules = (result.output as ICruiseResult).modules.filter((m) => isInner(m.source));
    const found = new Set<string>();
    const graph = new Map<string, string[]>();
    for (const m of modules) {
      const inner: string[] = [];
      for (const d of m.dependencies) {
        const broken = ruleBroken(m.source, d.resolved, d.module);
        if (broken) found.add(broken);
        if (isInner(d.resolved)) inner.push(d.resolved);
      }
      graph.set(m.source, [...new Set(inner)]);
    }
    for (const edge of cycleEdges(graph)) found.add(edge);
    violations = [...found].sort();
  }, 60_000);

  it('read the sources it guards (every file resolved)', () => {
    const sources = modules.map((m) => m.source);
    expect(sources).toContain('commands/index.ts');
    expect(sources).toContain('src/core/dispatcher.ts');
    expect(sources.length).toBeGreaterThan(40);
    const unresolved = modules.flatMap((m) =>
      m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.module}`),
    );
    expect(unresolved).toEqual([]);
  });

  it('names outer rings and SDKs as broken, ports and pure rules as fine', () => {
    expect(ruleBroken('src/core/x.ts', 'src/store/state-store.ts', '../store/state-store.js')).toBe(
      'src/core/x.ts → src/store/state-store.ts',
    );
    expect(ruleBroken('commands/x.ts', 'node_modules/@slack/bolt/dist/index.js', '@slack/bolt')).toBe(
      'commands/x.ts → @slack/bolt',
    );
    expect(ruleBroken('commands/x.ts', 'node_modules/pg/lib/index.js', 'pg')).toBe('commands/x.ts → pg');
    expect(ruleBroken('src/core/x.ts', 'src/compose/serve.ts', '../compose/serve.js')).toBeDefined();
    expect(ruleBroken('src/core/x.ts', 'src/core/ports.ts', './ports.js')).toBeUndefined();
    expect(ruleBroken('commands/x.ts', 'src/journal/version-id.ts', '../src/journal/version-id.js')).toBeUndefined();
    expect(ruleBroken('src/server/x.ts', 'src/store/db.ts', '../store/db.js')).toBeUndefined();
  });

  it('has no violation beyond the known list', () => {
    const fresh = violations.filter((v) => !KNOWN.includes(v));
    expect(fresh, 'new imports break the dependency rule (docs/adr/0001-dependency-rule.md)').toEqual([]);
  });

  it('keeps the known list honest: every listed violation still exists', () => {
    const fixed = KNOWN.filter((v) => !violations.includes(v));
    expect(fixed, 'these are fixed: delete them from KNOWN in this file').toEqual([]);
    console.log(`dependency rule: ${KNOWN.length} known violations remain`);
  });
});
