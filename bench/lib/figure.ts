/**
 * What a benchmark scenario reports: figures, each with its value, the baseline measured in
 * the same run, their ratio, the target and whether it was met. A missed target is a figure
 * with `pass: false`, never a figure left out.
 */

export interface Figure {
  scenario: string;
  figure: string;
  unit: string;
  value: number | null;
  /** Measured in the same run; null when the baseline is the event's own timestamp. */
  baseline: number | null;
  /** value / baseline; null without a baseline. */
  ratio: number | null;
  /** The target in words, e.g. "≥ 0.7× baseline" or "< 100 ms". */
  target: string;
  pass: boolean;
  notes?: string;
}

export interface ScenarioContext {
  quick: boolean;
  /** Progress lines (stderr), so the table on stdout stays clean. */
  log(line: string): void;
  /**
   * Hands the runner a tear-down that measures nothing (stopping servers, removing folders), to
   * finish in the background once the figures are taken: the next scenario's set-up may run
   * beside it, its first measurement may not (see `quiet`). Failures are logged, not thrown.
   */
  afterward(work: () => Promise<unknown>): void;
  /**
   * Resolves once every earlier scenario's tear-down (`afterward`) has finished. A scenario that
   * sets `setUpBesideTearDown` awaits it after its set-up and before its first measurement (or
   * warm-up); for the others the runner awaits it before their run starts.
   */
  quiet(): Promise<void>;
  /** The name of the scenario that runs after this one in this run, if any. */
  next?: string;
}

export interface Scenario {
  name: string;
  /** What it measures, one line (shown when it fails before reporting anything). */
  title: string;
  /** A hang guard, far above a normal run: past it the scenario is reported as not completed. */
  timeoutMs(quick: boolean): number;
  /**
   * Optional set-up that measures nothing (starting servers, seeding fixtures). The runner starts
   * every selected scenario's `prepare` while it loads the scenarios and waits for all of them
   * before the first measurement, so what is prepared must sit idle until its run (no work on
   * timers); `run` then gets its promise and owns what it made. What it returns has `stop()`, for
   * a run that never comes. (A scenario whose module imports only what its `prepare` needs, and
   * the rest when its run needs it, starts its `prepare` before the heavier modules have loaded.)
   */
  prepare?(quick: boolean): Promise<Prepared>;
  /**
   * Its run starts while the earlier scenarios' tear-downs may still be finishing, and awaits
   * `ctx.quiet()` before it measures anything: its set-up overlaps their tear-down.
   */
  setUpBesideTearDown?: boolean;
  run(ctx: ScenarioContext, prepared?: Promise<Prepared>): Promise<Figure[]>;
}

export interface Prepared {
  stop(): Promise<void>;
}

export type Check =
  | { kind: 'ratio-min'; min: number }
  | { kind: 'ratio-max'; max: number }
  | { kind: 'max'; max: number; inclusive?: boolean }
  | { kind: 'equals'; value: number }
  /** Reported beside its baseline, with no target (met when measured). */
  | { kind: 'report' };

export function describeCheck(check: Check, unit: string): string {
  switch (check.kind) {
    case 'ratio-min':
      return `≥ ${check.min}× baseline`;
    case 'ratio-max':
      return `≤ ${check.max}× baseline`;
    case 'max':
      return `${check.inclusive ? '≤' : '<'} ${check.max} ${unit}`;
    case 'equals':
      return `= ${check.value} ${unit}`;
    case 'report':
      return '(reported)';
  }
}

/** Build a figure: ratio from value and baseline, pass from the check (false when a value is missing). */
export function figure(input: {
  scenario: string;
  figure: string;
  unit: string;
  value: number | null;
  baseline?: number | null;
  check: Check;
  notes?: string;
}): Figure {
  const baseline = input.baseline ?? null;
  const value = input.value;
  const ratio =
    value !== null && baseline !== null && baseline !== 0 && Number.isFinite(value / baseline)
      ? value / baseline
      : null;
  let pass = false;
  const c = input.check;
  if (value !== null && Number.isFinite(value)) {
    if (c.kind === 'ratio-min') pass = ratio !== null && ratio >= c.min;
    else if (c.kind === 'ratio-max') pass = ratio !== null && ratio <= c.max;
    else if (c.kind === 'max') pass = c.inclusive ? value <= c.max : value < c.max;
    else if (c.kind === 'equals') pass = value === c.value;
    else pass = true;
  }
  return {
    scenario: input.scenario,
    figure: input.figure,
    unit: input.unit,
    value: value !== null && Number.isFinite(value) ? round(value) : null,
    baseline: baseline !== null ? round(baseline) : null,
    ratio: ratio !== null ? round(ratio, 3) : null,
    target: describeCheck(c, input.unit),
    pass,
    ...(input.notes ? { notes: input.notes } : {}),
  };
}

/** A scenario that could not produce its figures: one missed figure that says why. */
export function failedScenario(scenario: Scenario, err: unknown): Figure {
  const message = err instanceof Error ? err.message : String(err);
  return {
    scenario: scenario.name,
    figure: scenario.title,
    unit: '',
    value: null,
    baseline: null,
    ratio: null,
    target: 'scenario completes',
    pass: false,
    notes: `did not complete: ${message.split('\n')[0]!.slice(0, 300)}`,
  };
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
