/**
 * IssueOps parts that need no server: which comment bodies are `/conveyor` commands (the rest of
 * a pull request's conversation is left alone), how a reason becomes one word of the command
 * line, and `git.github.users` in conveyor.yaml (logins checked, duplicates that differ only in
 * case refused, the lookup ignoring case).
 */
import { describe, expect, it } from 'vitest';
import { parseCommentCommand } from '../../src/adapters/github-issueops.js';
import { slackUserOfLogin } from '../../src/config/github-users.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { SANDBOX_CONFIG } from '../../src/sandbox/sandbox.js';

const withUsers = (users: string) =>
  SANDBOX_CONFIG.replace(
    'git:\n  mirrorDir: mirrors\n',
    `git:\n  mirrorDir: mirrors\n  github:\n    users: ${users}\n`,
  );

function problems(text: string): string[] {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

describe('parseCommentCommand', () => {
  it.each([
    ['/conveyor approve', { verb: 'approve' }],
    ['  /Conveyor   APPROVE  \n\nShip it.', { verb: 'approve' }],
    ['\n\n/conveyor approve', { verb: 'approve' }],
    ['/conveyor reject', { verb: 'reject', reason: null }],
    ['/conveyor reject not before the audit', { verb: 'reject', reason: 'not before the audit' }],
    ['/conveyor reject "quoted" \'and\' \\escaped', { verb: 'reject', reason: 'quoted and escaped' }],
    ['/conveyor reject --force it', { verb: 'reject', reason: 'force it' }],
    ['/conveyor approve now please', { verb: 'unknown' }],
    ['/conveyor merge', { verb: 'unknown' }],
    ['/conveyor', { verb: 'unknown' }],
  ])('%j is %j', (body, command) => {
    expect(parseCommentCommand(body)).toEqual(command);
  });

  it.each(['LGTM', 'please /conveyor approve', '/conveyorapprove', '> /conveyor approve', ''])(
    '%j is no command (left alone)',
    (body) => {
      expect(parseCommentCommand(body)).toBeNull();
    },
  );

  it('keeps a reason short', () => {
    const reason = parseCommentCommand(`/conveyor reject ${'x'.repeat(1000)}`);
    expect(reason).toEqual({ verb: 'reject', reason: 'x'.repeat(300) });
  });
});

describe('git.github.users', () => {
  it('maps logins to Slack users, found ignoring case', () => {
    const config = parseConfig(withUsers('{ Lee-Lead: U_LEAD, pat-po: U_PO }'));
    expect(slackUserOfLogin(config.git.github?.users, 'lee-lead')).toBe('U_LEAD');
    expect(slackUserOfLogin(config.git.github?.users, 'PAT-PO')).toBe('U_PO');
    expect(slackUserOfLogin(config.git.github?.users, 'stranger')).toBeNull();
  });

  it('refuses a bad login, a bad Slack id and a login given twice in two cases', () => {
    expect(problems(withUsers('{ -lead: U_LEAD }'))).toEqual([
      'git.github.users.-lead: not a GitHub login (such as octocat)',
    ]);
    expect(problems(withUsers('{ lead: lee@example.com }'))).toEqual([
      expect.stringMatching(/^git\.github\.users\.lead: a Slack user id such as U012ABCDEF/),
    ]);
    expect(problems(withUsers('{ lead: U_A, LEAD: U_B }'))).toEqual([
      'git.github.users.LEAD: LEAD and lead are the same GitHub login (logins ignore case)',
    ]);
  });
});
