/**
 * Secrets come from environment variables only, validated here and never logged. Each may
 * also come from a file: `<NAME>_FILE=/path` (a mounted Kubernetes Secret, a Docker secret)
 * is read when `<NAME>` itself is not set; a trailing newline is dropped.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const optional = z.string().min(1).optional();

export const secretsSchema = z.object({
  SLACK_BOT_TOKEN: optional,
  SLACK_SIGNING_SECRET: optional,
  SLACK_APP_TOKEN: optional,
  SLACK_API_URL: z.url().optional(),
  GITHUB_TOKEN: optional,
  GITHUB_APP_ID: optional,
  GITHUB_APP_PRIVATE_KEY: optional,
  GITHUB_APP_INSTALLATION_ID: z.coerce.number().int().positive().optional(),
  GITHUB_WEBHOOK_SECRET: optional,
  DATABASE_URL: optional,
  CONSUL_HTTP_TOKEN: optional,
  SERVICENOW_USER: optional,
  SERVICENOW_PASSWORD: optional,
  SERVICENOW_TOKEN: optional,
  /** The token registry webhooks present on POST /hooks/registry (image apps). */
  REGISTRY_WEBHOOK_TOKEN: optional,
  /** The SMTP login for `notify.email` (email notifications). */
  SMTP_USER: optional,
  SMTP_PASSWORD: optional,
  /** "cluster=token,cluster2=token2": tokens of journal clusters and agents allowed to call the bot. */
  JOURNAL_TOKENS: optional,
  /** The token journal-watch / journal-agent present to the bot (one of JOURNAL_TOKENS). */
  JOURNAL_TOKEN: optional,
  /** "worker=token,…": tokens of verification workers (`conveyor verify-worker --name <worker>`). */
  VERIFY_WORKER_TOKENS: optional,
  /** The token `conveyor verify-worker` presents to serve (one of VERIFY_WORKER_TOKENS). */
  VERIFY_WORKER_TOKEN: optional,
  /** journal-watch: this cluster's Slack incoming webhook, for failure notices when serve cannot be reached. */
  JOURNAL_SLACK_WEBHOOK: z.url().optional(),
  /** The web board's OpenID Connect client secret (board.oidc). */
  BOARD_OIDC_CLIENT_SECRET: optional,
  /** Key of the board's session cookies (at least 32 characters); without it, a random key per start. */
  BOARD_SESSION_SECRET: z.string().min(32).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Set by the Deployment (downward API): the controller's leadership identity and the Lease's namespace. */
  POD_NAME: optional,
  POD_NAMESPACE: optional,
});

export type Secrets = z.infer<typeof secretsSchema>;

/** `NAME`, else the content of the file `NAME_FILE` names (without its trailing newline). */
export function secretValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return direct;
  const file = env[`${name}_FILE`];
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // Name the variable and the file, never a value.
    throw new Error(
      `invalid environment: ${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const value = text.replace(/\r?\n$/, '');
  return value === '' ? undefined : value;
}

export function readSecrets(env: NodeJS.ProcessEnv = process.env): Secrets {
  const picked = Object.fromEntries(
    Object.keys(secretsSchema.shape)
      .map((k) => [k, secretValue(env, k)] as const)
      .filter(([, v]) => v !== undefined),
  );
  const result = secretsSchema.safeParse(picked);
  if (!result.success) {
    // Name the variable, never its value.
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Every secret value, so logs can scrub them even where they appear unlabelled. */
export function secretValues(secrets: Secrets): string[] {
  return Object.entries(secrets)
    .filter(([k, v]) => typeof v === 'string' && !/URL$|^PORT$|_ID$/.test(k))
    .flatMap(([k, v]) =>
      k === 'JOURNAL_TOKENS'
        ? String(v)
            .split(',')
            .map((pair) => pair.slice(pair.indexOf('=') + 1))
        : [String(v)],
    )
    .filter((v) => v.length >= 6);
}
