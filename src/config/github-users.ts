/**
 * `git.github.users`: GitHub login → Slack user id. A `/conveyor approve` or `/conveyor reject`
 * comment on an operation's pull request counts as the mapped Slack user's, under every gate rule
 * that user's Slack click would meet. A login not listed here is answered with a refusal.
 * GitHub logins are case-insensitive; they are compared in lower case.
 */
import { z } from 'zod';

/** GitHub's login rule: letters, digits and single dashes, not at either end, at most 39. */
export const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

export const githubUsersSchema = z
  .record(z.string(), z.string().regex(/^[UW][A-Z0-9_]{1,20}$/, 'a Slack user id such as U012ABCDEF'))
  .superRefine((users, ctx) => {
    const seen = new Map<string, string>();
    for (const login of Object.keys(users)) {
      if (!GITHUB_LOGIN.test(login)) {
        ctx.addIssue({ code: 'custom', path: [login], message: 'not a GitHub login (such as octocat)' });
        continue;
      }
      const other = seen.get(login.toLowerCase());
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: [login],
          message: `${login} and ${other} are the same GitHub login (logins ignore case)`,
        });
      seen.set(login.toLowerCase(), login);
    }
  });

/** The Slack user a GitHub login maps to, ignoring case; null when it is not listed. */
export function slackUserOfLogin(users: Record<string, string> | undefined, login: string): string | null {
  const wanted = login.toLowerCase();
  for (const [k, v] of Object.entries(users ?? {})) if (k.toLowerCase() === wanted) return v;
  return null;
}
