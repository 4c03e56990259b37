/**
 * Split a chat command line into words: whitespace separates, single and double quotes
 * (including the curly quotes Slack clients type) group, backslash escapes the next character.
 * Control characters are refused: they have no business in a command.
 */
import { InputError } from './errors.js';

const OPEN_CLOSE: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\u201c': '\u201d',
  '\u2018': '\u2019',
  '\u201d': '\u201d',
};
export const MAX_COMMAND_LENGTH = 4000;

export function tokenize(line: string): string[] {
  if (line.length > MAX_COMMAND_LENGTH)
    throw new InputError(`the command is too long (${line.length} characters, at most ${MAX_COMMAND_LENGTH})`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(line)) {
    throw new InputError('the command contains control characters');
  }
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
      continue;
    }
    if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (ch in OPEN_CLOSE) {
      quote = OPEN_CLOSE[ch]!;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new InputError('a quote is not closed');
  if (inWord) words.push(current);
  return words;
}
