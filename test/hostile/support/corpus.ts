/** The hostile strings of test/fixtures/hostile/strings.txt, and how to type them safely. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { APP_NAME, ENV_NAME, OPERATION_ID, SHA, TAG_NAME, TICKET } from '../../../src/core/patterns.js';

const FILE = resolve(import.meta.dirname, '../../fixtures/hostile/strings.txt');

/** Every corpus value, with {marker} replaced by `marker`, plus long ones made here. */
export function hostileStrings(marker: string): string[] {
  const lines = readFileSync(FILE, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('"'))
    .map((l) => (JSON.parse(l) as string).replaceAll('{marker}', marker));
  return [...lines, 'x'.repeat(200), 'a'.repeat(5000), `qa${' '.repeat(300)}x`];
}

/** Quote a value for the command grammar: double quotes, backslash-escaped. */
export const quote = (v: string): string => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** What a parsed argument of each name must look like once the schema let it through. */
export const ARG_PATTERNS: Record<string, (v: string) => boolean> = {
  app: (v) => v === '*' || APP_NAME.test(v),
  env: (v) => ENV_NAME.test(v),
  src: (v) => ENV_NAME.test(v),
  dst: (v) => ENV_NAME.test(v),
  version: (v) => SHA.test(v) || TAG_NAME.test(v),
  to: (v) => TAG_NAME.test(v),
  ticket: (v) => TICKET.test(v),
  id: (v) => OPERATION_ID.test(v),
  // personal API tokens: a label of safe characters, a token's id (never the token itself)
  label: (v) => /^[A-Za-z0-9 ._:@()/-]{1,60}$/.test(v),
  'token-id': (v) => /^[a-z0-9]{12}$/.test(v),
  cluster: (v) => APP_NAME.test(v),
  // free text: bounded, and the tokenizer already refused control characters
  reason: (v) => v.length <= 500 && !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(v),
  command: (v) => [...v].length <= 40,
  // an object key: path segments of safe characters only (no "..", no leading "/" or "-" that matters to a store)
  key: (v) => /^[A-Za-z0-9._/-]{1,400}$/.test(v),
};
