/**
 * Wiring that every process running commands needs, with or without the controller:
 * the operation kinds beyond Git (journal pointers) and how verification is decided.
 */
import type { RuntimeWithEngine } from '../core/operation-engine.js';
import { noVerification } from '../core/steps/verification.js';
import { journalChain } from '../journal/chain.js';

export { journalChain } from '../journal/chain.js';

export function wireControllerless(runtime: RuntimeWithEngine): void {
  // Without a controller there is nothing to verify against: applied means succeeded.
  runtime.engine.verifyWith(noVerification);
  const chain = journalChain(runtime);
  runtime.engine.runners.set('journal-promote', chain);
  runtime.engine.runners.set('journal-rollback', chain);
  runtime.engine.runners.set('journal-seed', chain);
}
