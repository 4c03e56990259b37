/**
 * `environments[].verify.checks`: what must hold after a rollout is healthy before an operation
 * succeeds. Four kinds (the fourth, `command`, runs on a verification worker), each the shape of an Argo Rollouts AnalysisTemplate metric: `http` (a
 * web check), `prometheus` (a PromQL query and a condition, measured `count` times) and `job` (a
 * Kubernetes Job run to completion). Nothing here is ever a shell string: a Job's command is an
 * argv list, and templates only substitute known placeholders.
 */
import { z } from 'zod';
import { parseCondition } from './condition.js';
import { TEMPLATE_VARS, unknownPlaceholders } from './template.js';

const durationPattern = /^(\d+)(ms|s|m|h|d)$/;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "10m", "2h" → milliseconds (its own copy: src/config/schema.ts imports this file). */
const duration = z
  .string()
  .regex(durationPattern, 'a duration such as "500ms", "30s", "10m", "2h" or "1d"')
  .transform((s) => {
    const [, n, unit] = durationPattern.exec(s)!;
    return Number(n) * unitMs[unit!]!;
  });

/** A string with {placeholders}: only the known ones (app, env, version, sha, tag, operation, namespace, backup). */
const template = (what: string) =>
  z
    .string()
    .min(1)
    .max(4000)
    .superRefine((s, ctx) => {
      const bad = unknownPlaceholders(s);
      if (bad.length)
        ctx.addIssue({
          code: 'custom',
          message: `${what}: unknown placeholder ${bad.map((b) => `{${b}}`).join(', ')} (known: ${TEMPLATE_VARS.map((v) => `{${v}}`).join(', ')})`,
        });
    });

const condition = z.string().refine((s) => parseCondition(s) !== null, {
  message: 'a condition such as "< 0.05", ">= 0.99" or "== 1"',
});

const common = {
  /** Shown in messages and history; unique within the environment. */
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/, 'a check name of lowercase letters, digits and dashes (≤ 40)'),
  /** One attempt (an HTTP request, a query) or, for a Job, the whole run. */
  timeout: duration.optional(),
  /** Attempts after the first when one cannot be made or does not pass (a Job: its backoffLimit). */
  retries: z.number().int().min(0).max(10).default(0),
  /** Wait between attempts and measurements (a Job: between status reads). */
  interval: duration.default(5000),
};

/** Measured kinds: `count` measurements, `failureLimit` of them may fail (Argo's semantics). */
const measured = {
  count: z.number().int().min(1).max(100).default(1),
  failureLimit: z.number().int().min(0).max(100).default(0),
};

export const httpCheckSchema = z
  .object({
    kind: z.literal('http'),
    ...common,
    ...measured,
    url: template('url').refine((u) => /^https?:\/\/[^\s]+$/.test(u), 'an http(s) URL'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'a header name'), template('header')).default({}),
    body: template('body').optional(),
    expect: z
      .object({
        /** The status (or statuses) that pass. */
        status: z
          .union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)])
          .default(200),
        /** A regular expression the body must match. */
        bodyMatches: z
          .string()
          .refine((s) => {
            try {
              new RegExp(s);
              return true;
            } catch {
              return false;
            }
          }, 'a regular expression')
          .optional(),
        /** A value in the JSON body, e.g. { path: "$.status", equals: "ok" } or { path: "$.ready", condition: "== 1" }. */
        json: z
          .object({
            path: z
              .string()
              .regex(/^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*$/, 'a JSON path such as $.status or $.items[0].ready'),
            equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
            condition: condition.optional(),
          })
          .strict()
          .refine((j) => (j.equals !== undefined) !== (j.condition !== undefined), 'one of equals or condition')
          .optional(),
      })
      .strict()
      .default({ status: 200 }),
    tls: z
      .object({
        /** PEM file of the CA that signs the server's certificate (besides the system's). */
        caFile: z.string().min(1).optional(),
        /** The name the certificate must carry (SNI), when it differs from the URL's host. */
        serverName: z.string().min(1).optional(),
        /** Accept any certificate. For test environments only. */
        insecureSkipVerify: z.boolean().default(false),
      })
      .strict()
      .optional(),
  })
  .strict();

export const prometheusCheckSchema = z
  .object({
    kind: z.literal('prometheus'),
    ...common,
    ...measured,
    /** Prometheus's base URL, e.g. http://prometheus.monitoring:9090 */
    address: z.string().regex(/^https?:\/\/[^\s?#]+$/, 'an http(s) URL of the Prometheus server'),
    query: template('query'),
    /** Every sample of the result must meet it, e.g. "< 0.05". */
    successCondition: condition,
    /** A sample meeting it fails the measurement at once (optional). */
    failureCondition: condition.optional(),
    /** Measurements with no data that are tolerated before the check is `inconclusive`. */
    inconclusiveLimit: z.number().int().min(0).max(100).default(0),
  })
  .strict();

export const jobCheckSchema = z
  .object({
    kind: z.literal('job'),
    ...common,
    /** Default: the namespace of the app's target in this environment. */
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace')
      .optional(),
    image: template('image'),
    /** The container's entrypoint as argv (never a shell string); default: the image's. */
    command: z.array(template('command')).optional(),
    args: z.array(template('args')).default([]),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), template('env'))
      .default({}),
    serviceAccountName: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/)
      .optional(),
    /** Lines of the pod's log attached to the operation when the Job fails. */
    logLines: z.number().int().min(1).max(500).default(40),
  })
  .strict();

/** A verification worker's name (`conveyor verify-worker --name <w>`, VERIFY_WORKER_TOKENS). */
export const workerName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'a worker name of lowercase letters, digits and dashes');

/**
 * `command`: an argv run by a verification worker (`conveyor verify-worker`), for targets
 * outside Kubernetes. Never a shell string: the program and each argument are list items, run
 * without a shell; {placeholders} are filled by serve before the worker gets them.
 */
export const commandCheckSchema = z
  .object({
    kind: z.literal('command'),
    ...common,
    ...measured,
    argv: z
      .array(template('argv'), {
        error: (iss) =>
          typeof iss.input === 'string'
            ? 'argv is a list (program, then each argument), never a shell string: e.g. ["./smoke.sh", "--env", "{env}"]'
            : undefined,
      })
      .min(1)
      .max(100),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), template('env'))
      .default({}),
    /** The worker that runs it; default: the environment's `verify.worker`. */
    worker: workerName.optional(),
    /** Characters of the command's output (stdout and stderr, last part) kept with the result. */
    outputTail: z.number().int().min(100).max(8000).default(2000),
  })
  .strict();

export const checkSchema = z.discriminatedUnion('kind', [
  httpCheckSchema,
  prometheusCheckSchema,
  jobCheckSchema,
  commandCheckSchema,
]);

export const checksSchema = z
  .array(checkSchema)
  .max(20)
  .superRefine((checks, ctx) => {
    const seen = new Set<string>();
    checks.forEach((c, i) => {
      if (seen.has(c.name))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `two checks are named ${c.name}` });
      seen.add(c.name);
    });
  })
  .default([]);

/**
 * A soak window: after the operation succeeded, the environment stays under watch for `for`,
 * and the named checks (default: every http and prometheus check) are evaluated every `interval`.
 */
export const soakSchema = z
  .object({
    for: duration,
    interval: duration.default(300_000),
    checks: z.array(z.string()).min(1).optional(),
  })
  .strict();

/** `environments[].verify` (src/config/schema.ts refers to it). */
export const verifySchema = z
  .object({
    /** For the rollout to become healthy (the checks bound themselves). */
    timeout: duration.default(600_000),
    autoRollback: z.boolean().default(false),
    checks: checksSchema,
    soak: soakSchema.optional(),
    /** The verification worker that runs this environment's `command` checks. */
    worker: workerName.optional(),
    /**
     * Pre-deploy hooks of a promotion, run in order before its first Git write (e.g. a backup
     * Job); a failure stops the promotion with nothing written. A Job's output (its termination
     * message) is recorded on the operation.
     */
    before: z
      .array(z.discriminatedUnion('kind', [httpCheckSchema, jobCheckSchema]))
      .max(10)
      .default([]),
    /** Run before a rollback's first write, with {backup}: the output of the `before` Job of the version left. */
    restore: jobCheckSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    for (const [i, name] of (v.soak?.checks ?? []).entries()) {
      const check = v.checks.find((c) => c.name === name);
      if (!check)
        ctx.addIssue({
          code: 'custom',
          path: ['soak', 'checks', i],
          message: `no check named ${name} in verify.checks`,
        });
      else if (check.kind === 'job' || check.kind === 'command')
        ctx.addIssue({
          code: 'custom',
          path: ['soak', 'checks', i],
          message: `${name} is a ${check.kind} check; a soak window evaluates http and prometheus checks only`,
        });
    }
    if (v.soak && v.soak.for < v.soak.interval)
      ctx.addIssue({
        code: 'custom',
        path: ['soak', 'for'],
        message: 'soak.for is shorter than soak.interval: the window would end before its first evaluation',
      });
    for (const [i, c] of v.checks.entries())
      if (c.kind === 'command' && !c.worker && !v.worker)
        ctx.addIssue({
          code: 'custom',
          path: ['checks', i, 'worker'],
          message: `command check ${c.name} needs a worker: set verify.worker (or the check's worker) to the --name of a conveyor verify-worker`,
        });
  })
  .default({ timeout: 600_000, autoRollback: false, checks: [], before: [] });

export type SoakConfig = z.infer<typeof soakSchema>;
export type HttpCheck = z.infer<typeof httpCheckSchema>;
export type PrometheusCheck = z.infer<typeof prometheusCheckSchema>;
export type JobCheck = z.infer<typeof jobCheckSchema>;
export type CommandCheck = z.infer<typeof commandCheckSchema>;
export type Check = z.infer<typeof checkSchema>;

/** Default timeouts per kind when `timeout` is not set. */
export const DEFAULT_TIMEOUT_MS: Record<Check['kind'], number> = {
  http: 10_000,
  prometheus: 10_000,
  job: 600_000,
  command: 300_000,
};
export const timeoutOf = (c: Check) => c.timeout ?? DEFAULT_TIMEOUT_MS[c.kind];
