/**
 * Grammar fuzzing: generated command lines (unicode, quotes, flags, very long input, control
 * characters, hostile corpus values) through the tokenizer and every command's schema, then a
 * share of them through the real dispatcher on the sandbox. Never a crash: always a reply or
 * a usage error, and whatever a schema lets through matches its strict pattern.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import { hostileStrings, quote } from './support/corpus.js';
import { parseLine } from './support/parse-line.js';
import { family, printFamilies, seedFor } from './support/summary.js';

const PURE_RUNS = 10_000;
const DISPATCH_RUNS = 400;
const corpus = hostileStrings('/tmp/conveyor-hostile-never');

const NAMES = [...new Set(COMMANDS.flatMap((c) => c.name.split(' ')))];
const FLAGS = [
  '--version',
  '--to',
  '--ticket',
  '--dry-run',
  '--emergency',
  '--cluster',
  '--x',
  '-x',
  '--',
  '-',
  '--version=',
  '--to=qa/2026.11.23.1',
];
const PLAUSIBLE = [
  'api',
  'web',
  '*',
  'development',
  'qa',
  'staging',
  'prod',
  'dev',
  'dit',
  'qa/2026.11.23.1',
  'CHG0001234',
  'op_abcdefgh12',
  '1234567',
  'deadbeefcafe',
  '2026.11.23-dev-modelling.1',
];
const SPACES = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000'];

const word = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES, ...PLAUSIBLE) },
  { weight: 3, arbitrary: fc.constantFrom(...FLAGS) },
  { weight: 3, arbitrary: fc.constantFrom(...corpus) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"', "'", '\u201c', '\u201d', '\u2018', '\u2019', '\\', '"unclosed', "it's"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }).map((s) => `${s}\u0000${s}`) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 6000 }).map((n) => 'z'.repeat(n)) },
);
const quoted = word.map(quote);
const separator = fc.constantFrom(...SPACES);

/** A command line: mostly a known command name first, then words, quoted words and flags. */
const commandLine = fc
  .tuple(
    fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...COMMANDS.map((c) => c.name)) }, { weight: 1, arbitrary: word }),
    fc.array(fc.tuple(separator, fc.oneof(word, quoted)), { maxLength: 8 }),
  )
  .map(([first, rest]) => first + rest.map(([s, w]) => s + w).join(''));

describe('grammar fuzzing', () => {
  let t: TestRuntime;
  const pure = family('grammar fuzz (tokenizer + schemas)');
  const dispatched = family('grammar fuzz (real dispatcher)');

  beforeAll(async () => {
    t = await makeRuntime();
  });
  afterAll(async () => {
    await t?.close();
    printFamilies();
  });

  it(`${PURE_RUNS} generated command lines: a parse or a usage error, never a crash, nothing hostile gets through`, () => {
    const seed = seedFor('grammar fuzz');
    let parsed = 0;
    fc.assert(
      fc.property(commandLine, (line) => {
        let outcome: string;
        try {
          outcome = parseLine(line);
        } catch (err) {
          pure.record(false, `${JSON.stringify(line.slice(0, 120))}: ${(err as Error).message}`);
          throw err;
        }
        if (outcome === 'parsed') parsed++;
        pure.record(true);
      }),
      { numRuns: PURE_RUNS, seed },
    );
    expect(pure.lost, pure.losses.join('\n')).toBe(0);
    expect(pure.tried).toBeGreaterThanOrEqual(PURE_RUNS);
    // the generator reaches the handlers too, not only the error paths
    expect(parsed).toBeGreaterThan(50);
  });

  it('every command is reachable with hostile values in every position and flag', () => {
    for (const def of COMMANDS) {
      const names = def.positionals.map((p) => p.replace(/[?.]+$/, ''));
      for (const value of corpus) {
        for (let i = 0; i < Math.max(names.length, 1); i++) {
          const words = names.map((_, j) => (j === i ? quote(value) : 'api'));
          pure.record(parseLine(`${def.name} ${words.join(' ')}`) !== undefined);
        }
        for (const [flag, spec] of Object.entries(def.flags)) {
          if (spec.type !== 'string') continue;
          pure.record(parseLine(`${def.name} api qa --${flag} ${quote(value)}`) !== undefined);
          pure.record(parseLine(`${def.name} api qa --${flag}=${quote(value)}`) !== undefined);
        }
      }
    }
    expect(pure.lost, pure.losses.join('\n')).toBe(0);
  });

  // Regression (found by this suite): a refusal echoed an unexpected argument or an unknown
  // option in full — thousands of characters back into the channel. Now clipped.
  it('never echoes a huge value back in a refusal', async () => {
    for (const text of [
      `promote api qa ${'z'.repeat(3000)}`,
      `promote api qa --${'z'.repeat(3000)}`,
      `list api qa ${'\u{10000}'.repeat(1500)}`,
    ]) {
      const reply = await t.run(text, 'U_DEMO');
      expect(reply.status).toBe('usage');
      expect(reply.title.length).toBeLessThan(250);
    }
  });

  // Regression (found by this suite): a quoted "--" in a typed position vanished as the end of
  // options, so `promote api "--"` promoted api into the next stage instead of being refused.
  it('refuses "--" where no free text follows, keeps it before a reason', async () => {
    for (const text of [
      'promote api --',
      'promote api "--"',
      'list -- api',
      'rollback api qa -- --to x',
      'diff development -- qa',
    ]) {
      expect((await t.run(text, 'U_DEMO')).status, text).toBe('usage');
    }
    expect(await t.runtime.store.operations()).toEqual([]);
    const locked = await t.run('lock web qa -- -rf reasons', 'U_DEMO');
    expect(locked.title).toBe('Locked web in qa: -rf reasons');
    expect((await t.run('unlock web qa', 'U_DEMO')).status).toBe('ok');
  });

  it(`${DISPATCH_RUNS} generated lines through the real dispatcher: a reply every time, never an internal error`, async () => {
    const seed = seedFor('grammar dispatch');
    const users = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('U_DEMO', 'U_LEAD', 'U_PO', 'U_QA', 'U_OUTSIDER') },
      { weight: 1, arbitrary: fc.constantFrom(...corpus.slice(0, 30)) },
    );
    await fc.assert(
      fc.asyncProperty(commandLine, users, async (line, user) => {
        const reply = await t.run(line, user);
        const ok =
          ['ok', 'usage', 'refused'].includes(reply.status) &&
          reply.title.length < 600 &&
          !/\n\s+at /.test(reply.text) &&
          (reply.status !== 'usage' || reply.operation === undefined);
        dispatched.record(
          ok,
          `${JSON.stringify(line.slice(0, 120))} as ${JSON.stringify(user)} → ${reply.status}: ${reply.title.slice(0, 200)}`,
        );
        return true;
      }),
      { numRuns: DISPATCH_RUNS, seed },
    );
    expect(dispatched.lost, dispatched.losses.join('\n')).toBe(0);
  });
});
