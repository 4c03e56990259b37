import { describe, expect, it } from 'vitest';
import type { Operation } from '../../../src/core/operation.js';
import { gitApply } from '../../../src/core/steps/git-apply.js';
import { builtInRunners } from '../../../src/core/steps/index.js';
import { nextAfterApplied, noVerification } from '../../../src/core/steps/verification.js';

describe('step: verification hand-off, and the registry by kind', () => {
  it('an applied operation succeeds at once unless the policy says it is watched', () => {
    const op = { kind: 'promote', app: 'api', env: 'qa' } as Operation;
    expect(nextAfterApplied(op, noVerification)).toBe('succeeded');
    expect(nextAfterApplied(op, (o) => o.app === 'api')).toBe('verifying');
  });

  it('Git kinds are built in; journal kinds are left for the journal chain to register', () => {
    const runners = builtInRunners();
    expect(runners.get('promote')).toBe(gitApply);
    expect(runners.get('rollback')).toBe(gitApply);
    expect(runners.has('journal-promote')).toBe(false);
  });
});
