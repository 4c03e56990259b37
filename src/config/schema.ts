/**
 * conveyor.yaml, validated with zod. Every error names the path of the bad field.
 * Secrets never live here: they come from environment variables (see src/config/secrets.ts).
 */
import { z } from 'zod';
import { APP_NAME, BRANCH_NAME, ENV_NAME, ROLE_NAME, TAG_NAME } from '../core/patterns.js';
import { verifySchema } from '../verify/schema.js';
import { targetApplierFields } from './applier-schema.js';
import { githubUsersSchema } from './github-users.js';
import {
  environmentEmailSchema,
  environmentTeamsSchema,
  githubDeploymentsSchema,
  githubPrCommentsSchema,
  smtpNotifySchema,
} from './notify-sinks.js';
import { strategyFields, strategyProblems } from './strategy-schema.js';

const durationPattern = /^(\d+)(ms|s|m|h|d)$/;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "10m", "24h", "7d" → milliseconds. */
export const duration = z
  .string()
  .regex(durationPattern, 'a duration such as "30s", "10m", "24h" or "7d"')
  .transform((s) => {
    const [, n, unit] = durationPattern.exec(s)!;
    return Number(n) * unitMs[unit!]!;
  });

const roleName = z.string().regex(ROLE_NAME, 'a role name of lowercase letters, digits and dashes');
const slackUser = z.string().regex(/^[UW][A-Z0-9_]{1,20}$/, 'a Slack user id such as U012ABCDEF');
const webTemplate = z
  .string()
  .regex(/^https?:\/\/[^\s<>|]+$/, 'an http(s) URL template such as https://git.example.com/{repo}/commit/{sha}');
const slackGroup = z.string().regex(/^S[A-Z0-9]{2,20}$/, 'a Slack user group id such as S0123ABCD');

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day HH:MM');

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const freezeWindow = z.union([
  z
    .object({
      from: z.iso.datetime({ offset: true }),
      to: z.iso.datetime({ offset: true }),
      reason: z.string().min(1),
    })
    .strict()
    .refine((f) => new Date(f.from) < new Date(f.to), {
      message: 'the freeze ends before it starts ("to" must be after "from")',
      path: ['to'],
    }),
  z
    .object({
      /**
       * On these days from `from` to `to` (local time in `timeZone`, default UTC). A window whose
       * `to` is earlier than `from` crosses midnight and ends the next day.
       */
      weekly: z
        .object({
          days: z.array(weekday).min(1),
          from: clockTime,
          to: clockTime,
          timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Zurich').default('UTC'),
        })
        .strict()
        .refine((w) => w.from !== w.to, { message: 'a weekly freeze needs "to" different from "from"', path: ['to'] }),
      reason: z.string().min(1),
    })
    .strict(),
]);

const roleQuorum = z.record(roleName, z.number().int().min(1).max(10));

const gate = z
  .object({
    /** Required approvals per role, e.g. { tech-lead: 1, product-owner: 1 }. Empty: no approval. */
    roles: roleQuorum.default({}),
    expiresAfter: duration.default(86_400_000),
    /**
     * none | optional | required: a ticket checked in ServiceNow (a `servicenow:` block is then
     * required). `{ required: true, verify: false }` records the ticket without checking it.
     */
    changeTicket: z
      .union([
        z.enum(['none', 'optional', 'required']),
        z.object({ required: z.boolean(), verify: z.boolean().default(true) }).strict(),
      ])
      .default('none'),
    /** Roles for rollbacks (emergency rollbacks may need fewer); defaults to `roles`. */
    rollbackRoles: roleQuorum.optional(),
    freezes: z.array(freezeWindow).default([]),
    /** Who may request promote/rollback here: role names; empty means everyone. */
    requesters: z.array(roleName).default([]),
    /** Refuse to promote a commit whose checks failed or are pending (GitHub). */
    requireChecks: z.boolean().default(false),
    /**
     * Also send each named person who can fill a missing role a direct message with the same
     * card and buttons while the request waits (user groups are mentioned in the channel only).
     */
    dmApprovers: z.boolean().default(false),
  })
  .strict();

export const environmentSchema = z
  .object({
    name: z.string().regex(ENV_NAME, 'an environment name of lowercase letters, digits and dashes'),
    branch: z.string().regex(BRANCH_NAME, 'a branch name without spaces, "..", or a leading "-"'),
    enters: z.enum(['push', 'pull-request']).default('push'),
    /** Slack channel of this environment's operation messages: a name ("#deploys-prod") or an id ("C0123ABCD"). */
    channel: z
      .string()
      .regex(
        /^(#?[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{6,})$/,
        'a Slack channel name such as "#deploys-prod" or a channel id such as C0123ABCD',
      )
      .optional(),
    /** Email about this environment's operations (through `notify.email`'s SMTP server). */
    email: environmentEmailSchema.optional(),
    /** A Microsoft Teams incoming webhook for this environment's operations (Adaptive Cards). */
    teams: environmentTeamsSchema.optional(),
    gate: gate.default({
      roles: {},
      expiresAfter: 86_400_000,
      changeTicket: 'none',
      freezes: [],
      requesters: [],
      requireChecks: false,
      dmApprovers: false,
    }),
    allowSkip: z.boolean().default(false),
    /** Approve and Reject buttons in Slack open a dialog naming the app, environment and version first. */
    confirm: z.boolean().default(false),
    verify: verifySchema,
  })
  .strict();

const target = z
  .object({
    cluster: z.string().min(1),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace'),
    workloads: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a workload name')).min(1),
    /** Path of the manifests in the repository, read at the branch head for the desired image. */
    manifests: z.string().optional(),
    /** `kind` of the workloads and the GitOps `applier` (src/config/applier-schema.ts). */
    ...targetApplierFields,
  })
  .strict();

export const appSchema = z
  .object({
    name: z.string().regex(APP_NAME, 'an app name of lowercase letters, digits and dashes'),
    /** GitHub "owner/repo", a Git URL, or a local path. */
    repo: z.string().min(1),
    targets: z.record(z.string(), target).default({}),
    /** branch (default) | image | directory, with image: and gitops: (src/config/strategy-schema.ts). */
    ...strategyFields,
  })
  .strict();

export const configSchema = z
  .object({
    environments: z.array(environmentSchema).min(1),
    apps: z.array(appSchema).default([]),
    roles: z
      .record(
        roleName,
        z.object({ users: z.array(slackUser).default([]), groups: z.array(slackGroup).default([]) }).strict(),
      )
      .default({}),
    state: z
      .object({
        url: z
          .string()
          .regex(/^(pglite:.+|postgres(ql)?:\/\/.+)$/, 'pglite:<folder>, pglite:memory, or postgres://…')
          .default('pglite:.conveyor/state'),
        /**
         * Days kept in the tables that only grow (null: kept for ever). Defaults: idempotency
         * keys and answered Slack requests 7, command log 90, webhook deliveries 7, audit kept.
         */
        retention: z
          .object({
            idempotencyDays: z.number().int().min(1).nullable().optional(),
            commandLogDays: z.number().int().min(1).nullable().optional(),
            deliveriesDays: z.number().int().min(1).nullable().optional(),
            auditDays: z.number().int().min(30).nullable().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ url: 'pglite:.conveyor/state' }),
    git: z
      .object({
        mirrorDir: z.string().default('.conveyor/mirrors'),
        tagFormat: z.string().default('{env}/{yyyy}.{mm}.{dd}.{n}'),
        github: z
          .object({
            baseUrl: z.url().optional(),
            htmlUrl: z.url().optional(),
            gitUrl: z.string().optional(),
            /** GitHub deployments and commit statuses for apps on GitHub (see src/config/notify-sinks.ts). */
            deployments: githubDeploymentsSchema.optional(),
            /** A comment per operation on its pull request (`pull-request` environments), edited in place. */
            pullRequestComments: githubPrCommentsSchema.optional(),
            /** GitHub login → Slack user id: who a `/conveyor approve|reject` PR comment counts as (src/config/github-users.ts). */
            users: githubUsersSchema.optional(),
          })
          .strict()
          .optional(),
        pollInterval: duration.default(60_000),
        /** The longest a clone, fetch, push or ls-remote (and a GitHub API request) may take before it is stopped. */
        networkTimeout: duration.refine((ms) => ms >= 1000, 'at least 1s').default(120_000),
      })
      .strict()
      .default({
        mirrorDir: '.conveyor/mirrors',
        tagFormat: '{env}/{yyyy}.{mm}.{dd}.{n}',
        pollInterval: 60_000,
        networkTimeout: 120_000,
      }),
    slack: z
      .object({
        command: z
          .string()
          .regex(/^\/[a-z0-9_-]{1,31}$/)
          .default('/conveyor'),
        apiUrl: z.url().optional(),
        socketMode: z.boolean().default(false),
        journalChannel: z.string().optional(),
        /**
         * Web pages of plain-Git repositories, linked from operation messages (GitHub repositories
         * link to GitHub by themselves). Placeholders: {app}, {repo} (the repository path, e.g.
         * acme/api), {sha}, {from}, {to}, {tag}.
         */
        gitWeb: z
          .object({ commit: webTemplate.optional(), compare: webTemplate.optional(), tag: webTemplate.optional() })
          .strict()
          .optional(),
        /** Commands waiting after their ack beyond which new ones are answered "busy" at once. */
        maxQueued: z.number().int().min(10).max(100_000).optional(),
      })
      .strict()
      .optional(),
    kubernetes: z
      .object({
        clusters: z.record(
          z.string(),
          z
            .object({
              server: z.url().optional(),
              context: z.string().optional(),
              kubeconfig: z.string().optional(),
              inCluster: z.boolean().default(false),
            })
            .strict(),
        ),
        leaseNamespace: z.string().optional(),
      })
      .strict()
      .optional(),
    /** Extra notification routes by channel (`*`: every channel). URLs and secrets come from env variables named here. */
    notify: z
      .object({
        slackWebhooks: z
          .record(z.string(), z.object({ urlEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/) }).strict())
          .default({}),
        webhooks: z
          .record(z.string(), z.object({ url: z.url(), secretEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/) }).strict())
          .default({}),
        /** The SMTP server for `environments[].email` (see src/config/notify-sinks.ts). */
        email: smtpNotifySchema.optional(),
      })
      .strict()
      .optional(),
    /**
     * The read-only web board served by `serve` at `/` (README "Web board"). `url`: its public
     * base URL, linked from Slack operation messages. `oidc`: login through OpenID Connect (the
     * client secret comes from BOARD_OIDC_CLIENT_SECRET or _FILE); `users` maps the ID token's
     * claim (email or sub) to the Slack user id whose roles decide what the person sees.
     */
    board: z
      .object({
        url: z
          .url()
          .regex(/^https?:\/\/[^\s<>|?#]+$/, 'an http(s) base URL without query, such as https://conveyor.example.com')
          .optional(),
        oidc: z
          .object({
            issuer: z.url(),
            clientId: z.string().min(1),
            /** The callback: a path of its own, not one of the board's pages. */
            redirectUrl: z
              .url()
              .refine(
                (u) =>
                  !/^\/(login|logout|signed-out|history|audit|journals|events|ops(\/.*)?|api(\/.*)?)?\/?$/.test(
                    new URL(u).pathname,
                  ),
                'a callback path of its own, such as https://conveyor.example.com/oidc/callback (not a board page)',
              ),
            claim: z.enum(['email', 'sub']).default('email'),
            scopes: z
              .array(z.string().regex(/^[\x21-\x7e]+$/))
              .refine((s) => s.includes('openid'), 'must include openid')
              .default(['openid', 'email']),
            /** How the client secret is sent to the token endpoint (the OpenID default: basic). */
            tokenEndpointAuth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
          })
          .strict()
          .optional(),
        users: z.record(z.string().min(1), slackUser).default({}),
        /** How long a login lasts. */
        sessionTtl: duration.default(8 * 3_600_000),
      })
      .strict()
      .optional(),
    servicenow: z
      .object({ baseUrl: z.url(), approvedStates: z.array(z.string()).optional() })
      .strict()
      .optional(),
    /** Consul for the journal pointers. The ACL token comes from CONSUL_HTTP_TOKEN (or CONSUL_HTTP_TOKEN_FILE). */
    consul: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(8500),
        /** HTTPS; with `tls` to name the CA, a client certificate and the server name. */
        secure: z.boolean().default(false),
        datacenter: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a datacenter name')
          .optional(),
        /** Consul Enterprise: sent as X-Consul-Namespace and ?partition=. */
        namespace: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a namespace name')
          .optional(),
        partition: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a partition name')
          .optional(),
        tls: z
          .object({
            caFile: z.string().min(1).optional(),
            certFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
            serverName: z.string().min(1).optional(),
          })
          .strict()
          .refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), {
            message: 'certFile and keyFile go together (a client certificate and its key)',
          })
          .optional(),
      })
      .strict()
      .refine((c) => !c.tls || c.secure, { message: 'consul.tls needs secure: true', path: ['secure'] })
      .optional(),
    journal: z
      .object({
        objects: z
          .union([
            z.object({ folder: z.string() }).strict(),
            z
              .object({
                bucket: z.string().min(3),
                prefix: z.string().default('journals'),
                region: z.string().default('us-east-1'),
                endpoint: z.url().optional(),
                forcePathStyle: z.boolean().default(false),
                /** A bucket in another account: assume this role (from the default credentials); refreshed before it expires. */
                assumeRole: z
                  .object({
                    roleArn: z
                      .string()
                      .regex(
                        /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
                        'an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
                      ),
                    /** The external id the role's trust policy requires (sts:ExternalId). */
                    externalId: z
                      .string()
                      .regex(/^[\w+=,.@:/-]{2,1224}$/, '2–1224 characters of letters, digits and +=,.@:/-')
                      .optional(),
                    sessionName: z
                      .string()
                      .regex(/^[\w+=,.@-]{2,64}$/, '2–64 characters of letters, digits and +=,.@-')
                      .optional(),
                    /** STS endpoint (a regional or VPC endpoint); default: the region's. */
                    stsEndpoint: z.url().optional(),
                    /** Session length in seconds (900–43200, within the role's maximum). Default 3600. */
                    durationSeconds: z.number().int().min(900).max(43_200).optional(),
                  })
                  .strict()
                  .optional(),
                /** Server-side encryption of uploads: AES256 (SSE-S3) or aws:kms (SSE-KMS, with kmsKeyId or the bucket's default key). */
                sse: z.enum(['AES256', 'aws:kms']).optional(),
                kmsKeyId: z.string().min(1).optional(),
              })
              .strict()
              .refine((o) => !o.kmsKeyId || o.sse === 'aws:kms', {
                message: 'kmsKeyId needs sse: aws:kms',
                path: ['kmsKeyId'],
              }),
          ])
          .default({ folder: '.conveyor/objects' }),
        clusters: z
          .array(
            z
              .object({
                name: z.string().regex(APP_NAME),
                writable: z.boolean().default(false),
                mandators: z.array(z.enum(['tech-head', 'business-head'])).default([]),
              })
              .strict(),
          )
          .default([]),
        keyPrefix: z
          .string()
          .regex(/^[a-z0-9_/-]+$/)
          .default('journal_version/'),
        /** The import chain, e.g. [dev, qa, dit]; the first follows the dev modelling cluster. */
        chain: z
          .array(
            z
              .object({
                env: z.string().regex(ENV_NAME),
                auto: z.boolean().default(false),
                gate: gate.optional(),
                /** `journal seed`: how many versions behind the newest this environment starts (default: its place in the chain). */
                seedOffset: z.number().int().min(0).max(100).optional(),
              })
              .strict(),
          )
          .default([]),
        seedFrom: z.string().default('dev-modelling'),
        /** Roles that may register an uploaded journal by hand (`journal register <object-key>`). */
        registrars: z.array(roleName).default([]),
        /** At serve's start, seed the chain (`journal seed`) when none of its keys is set. */
        seedOnEmpty: z.boolean().default(false),
        /** Where journal-watch and journal-agent reach the bot (serve). Default: the local serve. */
        botUrl: z.url().optional(),
        channel: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine(
    (cfg, ctx) => {
      // Runs even when fields failed (see `when` below), so read defensively: report everything at once.
      if (!Array.isArray(cfg.environments)) return;
      const apps = Array.isArray(cfg.apps) ? cfg.apps : [];
      const roles = cfg.roles && typeof cfg.roles === 'object' ? cfg.roles : {};
      const envNames = cfg.environments.map((e) => e?.name);
      const dup = envNames.find((n, i) => envNames.indexOf(n) !== i);
      if (dup)
        ctx.addIssue({ code: 'custom', path: ['environments'], message: `environment "${dup}" is listed twice` });
      const appNames = apps.map((a) => a?.name);
      const dupApp = appNames.find((n, i) => appNames.indexOf(n) !== i);
      if (dupApp) ctx.addIssue({ code: 'custom', path: ['apps'], message: `app "${dupApp}" is listed twice` });
      apps.forEach((app, i) => {
        for (const problem of strategyProblems(
          app as Record<string, unknown> | undefined,
          envNames.filter((n): n is string => typeof n === 'string'),
        )) {
          ctx.addIssue({ code: 'custom', path: ['apps', i, ...problem.path], message: problem.message });
        }
        for (const env of Object.keys(app?.targets ?? {})) {
          if (!envNames.includes(env)) {
            ctx.addIssue({
              code: 'custom',
              path: ['apps', i, 'targets', env],
              message: `unknown environment "${env}"`,
            });
          }
        }
      });
      // A pre-deploy or restore Job runs in the app's target of that environment before any
      // write: every app needs one there, or each of its promotions would fail at the hook (and
      // its dry run could not know). Checks after a rollout run only where there is a rollout.
      cfg.environments.forEach((env, i) => {
        const verify = env?.verify as
          | { before?: { kind?: string; name?: string }[]; restore?: { kind?: string; name?: string } }
          | undefined;
        const jobs: [string, string][] = [
          ...(verify?.before ?? [])
            .filter((c) => c?.kind === 'job')
            .map((c) => ['before', c.name ?? 'job'] as [string, string]),
          ...(verify?.restore?.kind === 'job'
            ? [['restore', verify.restore.name ?? 'restore'] as [string, string]]
            : []),
        ];
        if (!jobs.length) return;
        const without = apps.filter((a) => a && !(a.targets && env?.name && env.name in a.targets)).map((a) => a?.name);
        if (without.length) {
          const [where, name] = jobs[0]!;
          ctx.addIssue({
            code: 'custom',
            path: ['environments', i, 'verify', where],
            message: `the job "${name}" runs in each app's target in ${env?.name} before it is written, but ${without.join(', ')} ${without.length === 1 ? 'has' : 'have'} no target there (apps[].targets.${env?.name})`,
          });
        }
      });
      const ticketNeedsServiceNow = (gate: { changeTicket?: unknown } | undefined) => {
        const t = gate?.changeTicket;
        if (t === 'optional' || t === 'required') return true;
        return typeof t === 'object' && t !== null && (t as { verify?: boolean }).verify !== false;
      };
      const noServiceNow = (path: (string | number)[]) =>
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            'tickets are checked in ServiceNow, but there is no servicenow: block; add one, or write ' +
            'changeTicket: { required: true, verify: false } to record tickets without checking them',
        });
      cfg.environments.forEach((env, i) => {
        if (env?.email && !cfg.notify?.email)
          ctx.addIssue({
            code: 'custom',
            path: ['environments', i, 'email'],
            message: 'email needs an SMTP server: add notify.email with smtp.host and from',
          });
      });
      const first = cfg.environments[0];
      if (first?.gate) {
        // Nothing promotes into the first environment (it takes pushes): a gate there would never apply.
        const g = first.gate as Record<string, unknown>;
        const idle = [
          Object.keys((g.roles as object) ?? {}).length ? 'roles' : null,
          g.rollbackRoles ? 'rollbackRoles' : null,
          g.changeTicket && g.changeTicket !== 'none' ? 'changeTicket' : null,
          g.requireChecks ? 'requireChecks' : null,
        ].filter(Boolean);
        if (idle.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['environments', 0, 'gate'],
            message: `${first.name} is the first environment: it takes pushes to ${first.branch} and nothing promotes into it, so gate ${idle.join(', ')} would never apply (freezes and requesters do apply, to its rollbacks)`,
          });
        }
        if (first.enters === 'pull-request') {
          ctx.addIssue({
            code: 'custom',
            path: ['environments', 0, 'enters'],
            message: `${first.name} is the first environment: nothing promotes into it, so enters: pull-request would never apply`,
          });
        }
      }
      const format = cfg.git?.tagFormat;
      if (typeof format === 'string') {
        const problem = tagFormatProblem(
          format,
          envNames.filter((n): n is string => typeof n === 'string'),
        );
        if (problem) ctx.addIssue({ code: 'custom', path: ['git', 'tagFormat'], message: problem });
      }
      cfg.environments.forEach((env, i) => {
        const gate = env?.gate;
        if (!cfg.servicenow && ticketNeedsServiceNow(gate)) noServiceNow(['environments', i, 'gate', 'changeTicket']);
        const used = { ...gate?.roles, ...gate?.rollbackRoles };
        for (const role of [...Object.keys(used), ...(Array.isArray(gate?.requesters) ? gate.requesters : [])]) {
          if (!(role in roles)) {
            ctx.addIssue({
              code: 'custom',
              path: ['environments', i, 'gate'],
              message: `role "${role}" is not defined under roles`,
            });
          }
        }
      });
      (Array.isArray(cfg.journal?.chain) ? cfg.journal.chain : []).forEach((link, i) => {
        if (!cfg.servicenow && ticketNeedsServiceNow(link?.gate))
          noServiceNow(['journal', 'chain', i, 'gate', 'changeTicket']);
      });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

/**
 * Why a deploy tag format cannot work, or null: it must name {env} before the date and number
 * (each environment its own tags), end in {n} (several deploys a day), and render valid tag names.
 */
export function tagFormatProblem(format: string, envs: string[]): string | null {
  if (!format.includes('{n}')) return `"${format}" needs {n}, the number of the deploy that day`;
  const cut = format.search(/\{(yyyy|mm|dd|n)\}/);
  if (!format.slice(0, cut).includes('{env}'))
    return `"${format}" needs {env} before the date and number, so each environment has its own tags`;
  const sample = format
    .replaceAll('{yyyy}', '2026')
    .replaceAll('{mm}', '11')
    .replaceAll('{dd}', '25')
    .replaceAll('{n}', '12');
  for (const env of envs.length ? envs : ['prod']) {
    const tag = sample.replaceAll('{env}', env);
    if (/\{[a-z]*\}/.test(tag)) return `"${format}" has an unknown placeholder; use {env}, {yyyy}, {mm}, {dd} and {n}`;
    if (!TAG_NAME.test(tag))
      return `"${format}" gives an invalid tag name for ${env}: ${tag} (letters, digits, . _ / -, no "..")`;
  }
  return null;
}

export type Config = z.infer<typeof configSchema>;
export type EnvironmentConfig = Config['environments'][number];
export type AppConfig = Config['apps'][number];
export type GateConfig = EnvironmentConfig['gate'];
