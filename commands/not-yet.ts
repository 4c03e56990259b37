import { NotAllowedError } from '../src/core/errors.js';

/** Handler for a command whose grammar is in place but whose feature has not landed. */
export async function notAvailableYet(): Promise<never> {
  throw new NotAllowedError('this command is not available yet in this version of Conveyor');
}
