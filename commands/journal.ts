import { z } from 'zod';
import { type CommandContext, defineCommand } from '../src/core/command.js';
import { InputError, isConveyorError, NothingToMove } from '../src/core/errors.js';
import { ago } from '../src/core/format.js';
import { gateStatus } from '../src/core/gate-status.js';
import type { JournalPlan } from '../src/core/operation.js';
import { renderOperation } from '../src/core/operation-view.js';
import type { JournalChainPort } from '../src/core/ports.js';
import { okReply, type Reply, refusedReply } from '../src/core/reply.js';
import { VERSION_ID } from '../src/journal/version-id.js';
import { envArg } from './args.js';

/** The journal chain the composition root handed over; none: journals are not set up here. */
function chainOf(ctx: CommandContext): JournalChainPort {
  if (!ctx.runtime.journalChain) throw new InputError('journals are not configured here (no `journal:` section)');
  return ctx.runtime.journalChain;
}

const journalVersion = z.string().regex(VERSION_ID, 'a journal version such as 2026.11.23-dev-modelling.3');
const clusterName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a cluster name');

/** 842 B, 12.3 KB, 1.5 MB, 2.0 GB (powers of 1024). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** `2026-11-23 14:02` */
const utcMinute = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

/** Later times as an offset from the first: `+41s`, `+3m`, `+2h`, `+1d`. */
function after(iso: string, from: string): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - Date.parse(from)) / 1000));
  if (s < 60) return `+${s}s`;
  if (s < 3600) return `+${Math.floor(s / 60)}m`;
  if (s < 86_400) return `+${Math.floor(s / 3600)}h`;
  return `+${Math.floor(s / 86_400)}d`;
}

/** `2026-11-23 14:02 → +41s → +42s`: exported (when known), uploaded, registered. */
export function timeline(v: { exportedAt: string | null; uploadedAt: string; registeredAt: string }): string {
  const start = v.exportedAt ?? v.uploadedAt;
  const steps = v.exportedAt ? [utcMinute(start), after(v.uploadedAt, start)] : [`— → ${utcMinute(start)}`];
  return [...steps, after(v.registeredAt, start)].join(' → ');
}

export const journalList = defineCommand({
  name: 'journal list',
  summary: 'List journal versions with their metadata',
  usage: 'journal list [--cluster <name>]',
  help: "Lists registered journal versions, newest first: version (it names the source cluster), file, size, sha256, change ticket and mandators, when it was exported, uploaded and registered (UTC; the export time is the sidecar's exportedAt, else the file's modification time when journal-watch first saw it), and who uploaded it (the cluster whose token registered it). GET /api/journal/versions answers the same in JSON.",
  positionals: [],
  flags: { cluster: { type: 'string', description: 'only versions exported by this cluster' } },
  schema: z.object({ cluster: clusterName.optional() }),
  mutates: false,
  async run(args, ctx) {
    const versions = await ctx.runtime.journal.list({ cluster: args.cluster, limit: 50 });
    const now = ctx.runtime.clock.now();
    const events = (await ctx.runtime.store.auditLog({ limit: 200 }))
      .filter((e) => e.action.startsWith('journal.export.') && (!args.cluster || e.actor === args.cluster))
      .slice(0, 5)
      .map(
        (e) =>
          `${ago(e.at, now)}: ${e.actor} ${e.action.replace('journal.export.', '')} ${String(e.detail.file ?? '')}${e.detail.reason ? ` — ${String(e.detail.reason)}` : ''}${e.detail.todo ? ` — To do: ${String(e.detail.todo)}` : ''}`,
      );
    const reply = okReply(
      versions.length ? `${versions.length} journal version(s)` : 'No journal versions registered yet',
      versions.length
        ? [
            {
              type: 'table',
              header: [
                'version',
                'file',
                'size',
                'sha256',
                'ticket · mandators',
                'exported → uploaded → registered (UTC)',
                'uploaded by',
              ],
              rows: versions.map((v) => [
                v.version,
                v.file,
                humanSize(v.size),
                `${v.sha256.slice(0, 12)}…`,
                `${v.ticket ?? '—'} · ${v.mandators.join('+') || '—'}`,
                timeline(v),
                v.uploadedBy ?? '—',
              ]),
            },
          ]
        : [],
      { data: { versions } },
    );
    if (events.length) reply.blocks.push({ type: 'list', title: 'Recent export events', items: events });
    return reply;
  },
});

export const journalStatus = defineCommand({
  name: 'journal status',
  summary: 'Show each import environment: pointer, last import, next step',
  usage: 'journal status',
  help: 'Shows, for each environment of the journal chain, the version its key points to, the last import result and its age, and what happens next.',
  positionals: [],
  flags: {},
  schema: z.object({}),
  mutates: false,
  async run(_args, ctx) {
    const chain = chainOf(ctx);
    const now = ctx.runtime.clock.now();
    const rows: string[][] = [];
    const suggestions: string[] = [];
    for (const [i, link] of chain.chain.entries()) {
      const pointer = await ctx.runtime.kv.get(chain.keyFor(link.env));
      const [last] = await ctx.runtime.journal.imports(link.env, 1);
      const next = chain.chain[i + 1];
      let step = '—';
      if (pointer && last?.version === pointer.value && !last.ok) {
        step = `the import failed; once fixed: journal retry ${link.env}`;
        suggestions.push(`journal retry ${link.env}`);
      } else if (pointer && last?.version !== pointer.value)
        step = `waiting for the ${link.env} agent to import ${pointer.value}`;
      else if (next && last?.ok) {
        // Say only what will happen: the command that moves the next environment, checked now.
        const advice = await adviseJournalPromote(ctx, next.env);
        step = advice.text;
        if (advice.command) suggestions.push(advice.command);
      }
      rows.push([
        link.env,
        chain.keyFor(link.env),
        pointer?.value ?? '(unset)',
        last ? `${last.ok ? 'ok' : `failed (exit ${last.exitCode ?? '—'})`} ${last.version}` : '—',
        last ? ago(last.at, now) : '—',
        step,
      ]);
    }
    return okReply(
      'Journal chain',
      [{ type: 'table', header: ['env', 'key', 'points at', 'last import', 'when', 'next'], rows }],
      { data: { rows, suggestions } },
    );
  },
});

/** What `journal promote <env>` would do now for this user: the command, or why nothing moves. */
async function adviseJournalPromote(
  ctx: CommandContext,
  env: string,
): Promise<{ text: string; command: string | null }> {
  try {
    await chainOf(ctx).planPromote(env);
    await ctx.runtime.engine.preflight({
      kind: 'journal-promote',
      app: 'journal',
      env,
      requester: ctx.user,
      emergency: false,
    });
    return { text: `journal promote ${env}`, command: `journal promote ${env}` };
  } catch (err) {
    if (err instanceof NothingToMove)
      return { text: /already points at/.test(err.message) ? '—' : `${env}: ${err.message}`, command: null };
    if (isConveyorError(err)) return { text: `${env} does not move: ${err.message}`, command: null };
    throw err;
  }
}

export const journalRetry = defineCommand({
  name: 'journal retry',
  summary: "Run the failed import of an environment's current version again",
  usage: 'journal retry <env>',
  help: "When an environment's last import of the version its key points at failed, rewrites the key with the same value (compare-and-set) so its agent imports it once more. Nothing moves along the chain.",
  positionals: ['env'],
  flags: {},
  schema: z.object({ env: envArg }),
  mutates: true,
  async run(args, ctx) {
    const chain = chainOf(ctx);
    chain.position(args.env);
    // A retry moves nothing and waits for no approval: only who may ask and freezes apply.
    await ctx.runtime.engine.checkRequest(
      { kind: 'journal-promote', env: args.env, requester: ctx.user, emergency: false },
      { needsApproval: false },
    );
    try {
      const version = await chain.retry(args.env);
      await ctx.runtime.store.audit(ctx.user, 'journal.retry', null, { env: args.env, version });
      return okReply(`${args.env} will import ${version} again: its agent picks it up now`);
    } catch (err) {
      if (err instanceof NothingToMove) return refusedReply(err.message);
      throw err;
    }
  },
});

async function runJournalOperation(
  ctx: CommandContext,
  kind: 'journal-promote' | 'journal-rollback',
  plan: () => Promise<JournalPlan>,
): Promise<Reply> {
  let p: JournalPlan;
  try {
    p = await plan();
  } catch (err) {
    if (err instanceof NothingToMove) return okReply(err.message, [], { ephemeral: true });
    throw err;
  }
  const op = await ctx.runtime.engine.request({
    kind,
    app: 'journal',
    env: p.env,
    plan: p,
    requester: ctx.user,
    idempotencyKey: ctx.idempotencyKey ?? null,
    emergency: false,
    source: ctx.source,
  });
  return renderOperation(op, await gateStatus(ctx.runtime, op));
}

export const journalPromote = defineCommand({
  name: 'journal promote',
  summary: 'Move an import environment to the version its predecessor imported',
  usage: 'journal promote <env> [--version <v>]',
  help: "Moves the environment's key one step along the chain, behind the environment's approval gate. Only a version the previous environment imported successfully can move on.",
  positionals: ['env'],
  flags: {
    version: { type: 'string', description: 'the version (must be imported successfully by the previous environment)' },
  },
  schema: z.object({ env: envArg, version: journalVersion.optional() }),
  mutates: true,
  run: (args, ctx) =>
    runJournalOperation(ctx, 'journal-promote', () => chainOf(ctx).planPromote(args.env, args.version)),
});

export const journalRollback = defineCommand({
  name: 'journal rollback',
  summary: 'Move an import environment back to the version it imported before',
  usage: 'journal rollback <env> [--to <v>]',
  help: 'Moves the key back to the previously imported version (or --to, which the environment must have imported successfully), behind the gate.',
  positionals: ['env'],
  flags: { to: { type: 'string', description: 'the version to return to' } },
  schema: z.object({ env: envArg, to: journalVersion.optional() }),
  mutates: true,
  run: (args, ctx) => runJournalOperation(ctx, 'journal-rollback', () => chainOf(ctx).planRollback(args.env, args.to)),
});

export const journalSeed = defineCommand({
  name: 'journal seed',
  summary: 'Set every import environment of the chain from the registered versions, in one step',
  usage: 'journal seed [--dry-run]',
  help:
    'Brings a new or rebuilt chain to a defined state: the first environment gets the newest version of the seeding cluster, ' +
    'each next one a version older (or its seedOffset). One operation, gated like a promotion into the most guarded environment it moves; ' +
    'each key moves by compare-and-swap from what was planned, keys already there are left alone, and a second seed changes nothing.',
  positionals: [],
  flags: { 'dry-run': { type: 'boolean', description: 'print what would move, change nothing' } },
  schema: z.object({ 'dry-run': z.boolean().optional() }),
  mutates: true,
  async run(args, ctx) {
    const chain = chainOf(ctx);
    let plan: JournalPlan;
    try {
      plan = await chain.planSeed();
    } catch (err) {
      if (err instanceof NothingToMove) return okReply(err.message, [], { ephemeral: true });
      throw err;
    }
    const moves = (plan.moves ?? []).map((m) => `${m.key}: ${m.fromVersion ?? '(unset)'} → ${m.toVersion}`);
    if (args['dry-run']) {
      await ctx.runtime.engine.preflight({
        kind: 'journal-seed',
        app: 'journal',
        env: plan.env,
        requester: ctx.user,
        emergency: false,
      });
      return okReply(
        'dry run: journal seed would be accepted; this is what it would move (nothing was changed)',
        [{ type: 'list', items: moves }],
        {
          data: { plan, dryRun: true },
        },
      );
    }
    const op = await ctx.runtime.engine.request({
      kind: 'journal-seed',
      app: 'journal',
      env: plan.env,
      plan,
      requester: ctx.user,
      idempotencyKey: ctx.idempotencyKey ?? null,
      emergency: false,
      source: ctx.source,
    });
    return renderOperation(op, await gateStatus(ctx.runtime, op), [{ type: 'list', title: 'moves', items: moves }]);
  },
});

export const journalRegister = defineCommand({
  name: 'journal register',
  summary: 'Register an uploaded journal whose registration failed (manual correction)',
  usage: 'journal register <object-key>',
  help:
    'For the roles journal.registrars names. Reads the object back in full and registers it only when its size and SHA-256 equal what the uploader recorded ' +
    'and it passes the same rules as journal-watch and the version endpoint; then the chain follows as for any new version.',
  positionals: ['key'],
  flags: {},
  schema: z.object({
    key: z
      .string()
      .regex(
        /^[A-Za-z0-9._/-]{1,400}$/,
        'an object key such as journals/dev-modelling/2026.11.25-dev-modelling.3/rates.dat',
      ),
  }),
  mutates: true,
  async run(args, ctx) {
    const { version, created } = await chainOf(ctx).registerByHand(args.key, ctx.user);
    return okReply(
      created
        ? `Registered ${version.version} from ${args.key} (read back: ${version.size} bytes, sha256 ${version.sha256.slice(0, 12)}…)`
        : `${args.key} is registered already as ${version.version}`,
      [],
      { data: { version } },
    );
  },
});
