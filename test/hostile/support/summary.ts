/**
 * The hostile suite's figures: one tally per family of attacks or faults, printed as one line
 * at the end of each file (`afterAll(printFamilies)`):
 *
 *   [hostile] grammar fuzz: 10000 tried, 10000 refused, 0 crashed, 0 lost
 *
 * "refused" counts cases that ended as they must (refused, rendered inert, or survived with
 * every invariant intact); "crashed" counts cases after which the server stopped answering
 * (`crash`, or `recordAlive` with a failed health check); "lost" counts everything else: an
 * unauthorised success, a lost or duplicated version or reply, a double post. Tests assert
 * `crashed === 0` and `lost === 0`; the line is the record.
 */
export interface Family {
  name: string;
  tried: number;
  ok: number;
  lost: number;
  crashed: number;
  /** Short descriptions of the first losses and crashes, for the failure message. */
  losses: string[];
  /** Count one case: `ok` true when it ended as it must. */
  record(ok: boolean, what?: string): boolean;
  /** Count one case after which the server no longer answered. */
  crash(what: string): void;
}

const families = new Map<string, Family>();

export function family(name: string): Family {
  let f = families.get(name);
  if (!f) {
    const created: Family = {
      name,
      tried: 0,
      ok: 0,
      lost: 0,
      crashed: 0,
      losses: [],
      record(ok, what) {
        created.tried += 1;
        if (ok) created.ok += 1;
        else {
          created.lost += 1;
          if (created.losses.length < 20) created.losses.push(what ?? '(no detail)');
        }
        return ok;
      },
      crash(what) {
        created.tried += 1;
        created.crashed += 1;
        if (created.losses.length < 20) created.losses.push(`crashed: ${what}`);
      },
    };
    f = created;
    families.set(name, f);
  }
  return f;
}

export function familyLine(f: Family): string {
  return `[hostile] ${f.name}: ${f.tried} tried, ${f.ok} refused, ${f.crashed} crashed, ${f.lost} lost`;
}

/** Whether the server at `base` still answers its health check (bounded to a few seconds). */
export async function answers(base: string): Promise<boolean> {
  return fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.status === 200,
    () => false,
  );
}

/**
 * Count one attack: `refused` when the server refused it as it must; then check the server
 * still answers — if not, the case counts as a crash whatever the answer was.
 */
export async function recordAlive(f: Family, base: string, refused: boolean, what: string): Promise<boolean> {
  if (!(await answers(base))) {
    f.crash(what);
    return false;
  }
  return f.record(refused, what);
}

const printed = new Set<string>();

/** Print one line per family recorded so far and not printed yet (call from afterAll). */
export function printFamilies(): void {
  for (const f of families.values()) {
    if (f.tried === 0 || printed.has(f.name)) continue;
    printed.add(f.name);
    console.log(familyLine(f));
  }
}

/** A reproducible seed: HOSTILE_SEED when set, else a fresh one (always printed). */
export function seedFor(label: string, env: NodeJS.ProcessEnv = process.env): number {
  const seed = env.HOSTILE_SEED ? Number(env.HOSTILE_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  console.log(`[hostile] ${label}: seed ${seed} (rerun with HOSTILE_SEED=${seed})`);
  return seed;
}

/** mulberry32: a small seeded generator for choices outside fast-check. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
