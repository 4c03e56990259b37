/** The one list of chat commands. Order is the order `help` shows. */
import type { CommandDefinition } from '../src/core/command.js';
import { findCommandIn } from '../src/core/command-registry.js';
import { approve } from './approve.js';
import { audit } from './audit.js';
import { diff } from './diff.js';
import { help } from './help.js';
import { history } from './history.js';
import {
  journalList,
  journalPromote,
  journalRegister,
  journalRetry,
  journalRollback,
  journalSeed,
  journalStatus,
} from './journal.js';
import { list } from './list.js';
import { lock } from './lock.js';
import { promote } from './promote.js';
import { reject } from './reject.js';
import { rollback } from './rollback.js';
import { tokenCreate, tokenList, tokenRevoke } from './token.js';
import { unlock } from './unlock.js';

export const COMMANDS: CommandDefinition<any>[] = [
  promote,
  rollback,
  diff,
  list,
  history,
  audit,
  approve,
  reject,
  lock,
  unlock,
  journalList,
  journalStatus,
  journalPromote,
  journalRollback,
  journalRetry,
  journalSeed,
  journalRegister,
  tokenCreate,
  tokenList,
  tokenRevoke,
  help,
];

/** Find the command the words start with: two-word names ("journal promote") first. */
export function findCommand(words: string[]): { def: CommandDefinition<any>; rest: string[] } | null {
  return findCommandIn(COMMANDS, words);
}
