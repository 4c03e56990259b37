import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { MAX_COMMAND_LENGTH, tokenize } from '../../src/core/tokenize.js';

describe('tokenize', () => {
  it('splits on any run of whitespace', () => {
    expect(tokenize('promote  api\tprod\n--version qa/2026.11.23.1')).toEqual([
      'promote',
      'api',
      'prod',
      '--version',
      'qa/2026.11.23.1',
    ]);
    expect(tokenize('   ')).toEqual([]);
    expect(tokenize('')).toEqual([]);
  });

  it('groups quoted text, straight or curly as Slack clients type it', () => {
    expect(tokenize('reject op_1 "not today, sorry"')).toEqual(['reject', 'op_1', 'not today, sorry']);
    expect(tokenize("lock api prod 'db migration'")).toEqual(['lock', 'api', 'prod', 'db migration']);
    expect(tokenize('lock api prod \u201cdb migration\u201d')).toEqual(['lock', 'api', 'prod', 'db migration']);
    expect(tokenize('lock api prod \u2018db migration\u2019')).toEqual(['lock', 'api', 'prod', 'db migration']);
    expect(tokenize('lock api prod \u201ddb migration\u201d')).toEqual(['lock', 'api', 'prod', 'db migration']);
    expect(tokenize('say "it\'s" fine')).toEqual(['say', "it's", 'fine']);
    expect(tokenize('a "b"c d')).toEqual(['a', 'bc', 'd']);
    expect(tokenize('a "" b')).toEqual(['a', '', 'b']);
  });

  it('lets a backslash escape the next character', () => {
    expect(tokenize('a\\ b c')).toEqual(['a b', 'c']);
    expect(tokenize('say \\"hi\\"')).toEqual(['say', '"hi"']);
    expect(tokenize('trailing\\')).toEqual(['trailing\\']);
  });

  it('refuses unclosed quotes, control characters, bidi overrides and overlong lines', () => {
    const refused = (line: string) => {
      try {
        tokenize(line);
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(line)}`);
    };
    expect(refused('reject op_1 "open')).toMatch(/quote is not closed/);
    expect(refused('promote api\u0000 prod')).toMatch(/control characters/);
    expect(refused('promote api\u001b[2J')).toMatch(/control characters/);
    expect(refused('promote api\u007f')).toMatch(/control characters/);
    expect(refused('promote \u202eipa')).toMatch(/control characters/);
    expect(refused('promote \u2066api\u2069')).toMatch(/control characters/);
    expect(refused('x'.repeat(MAX_COMMAND_LENGTH + 1))).toMatch(/too long/);
    expect(tokenize('x'.repeat(MAX_COMMAND_LENGTH))).toHaveLength(1);
  });

  it('returns plain words unchanged (property)', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_./:*=-]{1,20}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 10 }), fc.constantFrom(' ', '  ', '\t', '\n'), (words, sep) => {
        expect(tokenize(words.join(sep))).toEqual(words);
      }),
    );
  });

  it('keeps any printable text as one word when it is quoted with escapes (property)', () => {
    const printable = fc.string({
      unit: fc.constantFrom(...'ab c"\'\\\u201c\u2019-–é✓ \t'.split('')),
      maxLength: 30,
    });
    fc.assert(
      fc.property(printable, (text) => {
        const escaped = [...text].map((ch) => (/[\s"'\\\u201c\u201d\u2018\u2019]/.test(ch) ? `\\${ch}` : ch)).join('');
        expect(tokenize(`cmd ${escaped || '""'}`)).toEqual(['cmd', text]);
      }),
    );
  });
});
