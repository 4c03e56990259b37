/**
 * `board.oidc` in conveyor.yaml: a callback that is one of the board's own pages would be
 * shadowed by that page (login could never finish), and an OpenID login needs the `openid`
 * scope; both are refused by check-config with the field's path, a good one is accepted.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { SANDBOX_CONFIG } from '../../src/sandbox/sandbox.js';

const withOidc = (oidc: string) =>
  `${SANDBOX_CONFIG}board:\n  url: https://conveyor.example.com\n  oidc: { issuer: "https://id.example.com", clientId: conveyor, ${oidc} }\n`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

describe('board.oidc', () => {
  it.each(['/', '/login', '/audit', '/ops/x', '/api/audit'])('refuses the callback %s (a board page)', (path) => {
    expect(problems(withOidc(`redirectUrl: "https://conveyor.example.com${path}"`))).toEqual([
      expect.stringMatching(/^board\.oidc\.redirectUrl: a callback path of its own/),
    ]);
  });

  it('needs the openid scope', () => {
    expect(problems(withOidc('redirectUrl: "https://conveyor.example.com/auth/callback", scopes: [email]'))).toEqual([
      'board.oidc.scopes: must include openid',
    ]);
  });

  it('accepts a callback of its own', () => {
    const config = parseConfig(withOidc('redirectUrl: "https://conveyor.example.com/auth/callback"'));
    expect(config.board?.oidc?.scopes).toEqual(['openid', 'email']);
  });
});
