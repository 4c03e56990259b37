/**
 * Notification sinks beyond Slack, configured per environment beside its Slack `channel`:
 *
 *   environments:
 *     - name: prod
 *       channel: "#deploys-prod"
 *       email: { to: [ops@example.com] }
 *       teams: { urlEnv: TEAMS_PROD_WEBHOOK }
 *   notify:
 *     email: { smtp: { host: smtp.example.com, port: 587 }, from: "Conveyor <conveyor@example.com>" }
 *
 * The SMTP user and password come from SMTP_USER / SMTP_PASSWORD (or their `_FILE` forms); a
 * Teams incoming-webhook URL carries its own signature, so it is a secret too and comes from the
 * environment variable named by `urlEnv` (or `<urlEnv>_FILE`), never from this file.
 */
import { z } from 'zod';
import { OPERATION_STATES } from '../core/operation.js';

const envVar = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an environment variable name such as TEAMS_PROD_WEBHOOK');

/** The states announced by default: the ones a person acts on or wants to know the end of. */
export const DEFAULT_SINK_STATES = [
  'awaiting-approval',
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'cancelled',
] as const;

const states = z
  .array(z.enum(OPERATION_STATES))
  .min(1)
  .default([...DEFAULT_SINK_STATES]);

/** `environments[].email`: who gets an email about this environment's operations. */
export const environmentEmailSchema = z
  .object({
    to: z.array(z.email('an email address such as ops@example.com')).min(1),
    cc: z.array(z.email('an email address such as ops@example.com')).default([]),
    /** Which states send a message. */
    on: states,
  })
  .strict();

/** `environments[].teams`: a Microsoft Teams incoming webhook (Adaptive Card messages). */
export const environmentTeamsSchema = z
  .object({
    /** Environment variable holding the webhook URL (or `<NAME>_FILE`, a file holding it). */
    urlEnv: envVar,
    on: states,
  })
  .strict();

/** `notify.email`: the SMTP server every environment's email goes through. */
export const smtpNotifySchema = z
  .object({
    smtp: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(587),
        /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
        secure: z.boolean().default(false),
        /** Refuse to send unless the server upgrades to TLS (STARTTLS). */
        requireTls: z.boolean().default(false),
      })
      .strict(),
    /** The sender, e.g. "Conveyor <conveyor@example.com>". */
    from: z.string().min(3),
    /** Attempts after the first, with exponential backoff, for temporary failures. */
    retries: z.number().int().min(0).max(10).default(3),
  })
  .strict();

export type EnvironmentEmail = z.infer<typeof environmentEmailSchema>;
export type EnvironmentTeams = z.infer<typeof environmentTeamsSchema>;
export type SmtpNotify = z.infer<typeof smtpNotifySchema>;

/**
 * `git.github.deployments`: apps on GitHub get a GitHub deployment per promotion or rollback,
 * with statuses as it moves, and (`commitStatus`) a `conveyor/<env>` status on the commit that
 * reached the environment. The token needs `deployments: write` and `statuses: write`.
 */
export const githubDeploymentsSchema = z
  .object({
    commitStatus: z.boolean().default(true),
  })
  .strict();

/** `git.github.pullRequestComments`: one comment per operation on the pull request it opened, edited in place. */
export const githubPrCommentsSchema = z.object({}).strict();
