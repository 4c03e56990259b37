/**
 * Invariant checks shared by the FAULTS family (test/hostile/faults.test.ts): what must hold
 * after every injected fault, each returning what broke so the family line can count it.
 */

import { git, head, tagMessage, tagNames } from '../../support/git-helpers.js';
import type { TestRuntime } from '../../support/runtime.js';

export const OPEN_STATES = ['requested', 'awaiting-approval', 'approved', 'applying', 'applied', 'verifying'] as const;
export const until = async (what: string, cond: () => boolean, ms = 20_000) => {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
};

/**
 * The invariants of one Git operation: final and succeeded, the branch at the version asked
 * for, exactly one new deploy tag there whose message names the operation, every transition
 * audited once, nothing left open. Returns what broke ('' when nothing).
 */
export async function gitInvariants(
  t: TestRuntime,
  o: { id: string; repo: string; branch: string; want: string; tagsBefore: string[] },
) {
  const store = t.runtime.store;
  const op = await store.operation(o.id);
  const problems: string[] = [];
  if (op.state !== 'succeeded') problems.push(`state ${op.state} (${op.progress.lastError ?? op.error ?? ''})`);
  if (head(o.repo, o.branch) !== o.want) problems.push(`${o.branch} is not at the version asked for`);
  const fresh = tagNames(o.repo, `${o.branch}/`).filter((n) => !o.tagsBefore.includes(n));
  if (fresh.length !== 1) problems.push(`${fresh.length} new deploy tags: ${fresh.join(', ')}`);
  else {
    if (git(o.repo, 'rev-parse', `${fresh[0]}^{commit}`) !== o.want) problems.push('the tag is not at the version');
    if (!tagMessage(o.repo, fresh[0]!).includes(`Operation: ${o.id}`))
      problems.push('the tag does not name the operation');
  }
  const moves = (await store.auditLog({ operationId: o.id, limit: 500 }))
    .map((a) => a.action)
    .filter((a) => a.startsWith('operation.'));
  if (new Set(moves).size !== moves.length) problems.push(`a transition was recorded twice: ${moves.join(' ')}`);
  const open = await store.operations({ states: [...OPEN_STATES] });
  if (open.length) problems.push(`${open.length} operation(s) left open`);
  return problems.join('; ');
}

/** A one-line, stack-free message (what a user sees). */
export const oneLine = (text: string | undefined) => Boolean(text) && !/\n|\bat .*:\d+:\d+/.test(text!);
