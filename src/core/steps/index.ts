/**
 * The step registry: which runner applies each kind of operation. Git kinds are built in;
 * journal kinds are registered by the journal chain (it owns the key-value moves).
 */
import type { OperationKind } from '../operation.js';
import { gitApply } from './git-apply.js';
import type { KindRunner } from './kind-runner.js';

export function builtInRunners(): Map<OperationKind, KindRunner> {
  return new Map<OperationKind, KindRunner>([
    ['promote', gitApply],
    ['rollback', gitApply],
  ]);
}
