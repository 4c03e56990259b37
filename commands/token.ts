/**
 * Personal API tokens: `token create [label]` (in Slack only, where Slack vouches for who asks),
 * `token list`, `token revoke <id>`. A token acts as its owner for `conveyor run` and
 * `POST /api/run`; it is shown once and only its hash is kept (src/store/token-store.ts).
 */
import { z } from 'zod';
import { type CommandContext, defineCommand } from '../src/core/command.js';
import { didYouMean } from '../src/core/did-you-mean.js';
import { ConflictError, NotAllowedError, NotFoundError } from '../src/core/errors.js';
import { ago } from '../src/core/format.js';
import { type ApiToken, type ApiTokens, TOKEN_ID } from '../src/core/ports.js';
import { okReply } from '../src/core/reply.js';

/** Active tokens one person may hold at a time. */
export const MAX_ACTIVE_TOKENS = 25;

const labelArg = z
  .string()
  .max(60, 'a label of at most 60 characters')
  .regex(/^[A-Za-z0-9 ._:@()/-]+$/, 'a label of letters, digits, spaces and . _ : @ ( ) / -');

export function tokenStore(ctx: CommandContext): ApiTokens {
  return ctx.runtime.tokens;
}

/** How a token's row reads in a table: id, label, created, last used, state. */
function tokenRow(t: ApiToken, now: Date): string[] {
  return [
    t.id,
    t.label ?? '—',
    ago(t.createdAt, now),
    t.lastUsedAt ? ago(t.lastUsedAt, now) : 'never',
    t.revokedAt ? `revoked ${ago(t.revokedAt, now)}` : 'active',
  ];
}

export const tokenCreate = defineCommand({
  name: 'token create',
  summary: 'Create a personal API token for the CLI and the HTTP API (in Slack only)',
  usage: 'token create [label…]',
  help:
    'Creates a token that acts as you for `conveyor run` (CONVEYOR_TOKEN or --token-file) and `POST /api/run` ' +
    '(Authorization: Bearer …). It is shown once, only to you; Conveyor keeps only its hash. Created in Slack only, ' +
    'where Slack vouches for who you are. `token list` shows yours, `token revoke <token-id>` ends one.',
  positionals: ['label...'],
  flags: {},
  schema: z.object({ label: labelArg.optional() }),
  mutates: true,
  async run(args, ctx) {
    if (ctx.source !== 'slack') {
      await ctx.runtime.store.audit(ctx.user, 'token.create.refused', null, { source: ctx.source });
      throw new NotAllowedError(
        'tokens are created in Slack, where Slack vouches for who you are: type `/conveyor token create [label]` there',
      );
    }
    const store = tokenStore(ctx);
    const active = (await store.list(ctx.user)).filter((t) => !t.revokedAt);
    if (active.length >= MAX_ACTIVE_TOKENS) {
      throw new ConflictError(
        `you have ${active.length} active tokens; revoke one first (\`token list\`, then \`token revoke <token-id>\`)`,
      );
    }
    const label = args.label?.trim() || null;
    const { token, record } = await store.create(ctx.user, label);
    await ctx.runtime.store.audit(ctx.user, 'token.created', null, { id: record.id, label });
    const named = label ? `"${label}" ` : '';
    const data = { token: { id: record.id, label, createdAt: record.createdAt } };
    return okReply(
      `Your API token ${named}(id ${record.id}): copy it now, it is shown only this once`,
      [
        { type: 'code', text: token },
        { type: 'text', text: 'It acts as you. Keep it where only you can read it, then:' },
        {
          type: 'code',
          text: [
            'export CONVEYOR_TOKEN=<the token>          # or: conveyor run … --token-file <file, mode 600>',
            'conveyor run "list"',
            'curl -H "Authorization: Bearer <the token>" -d \'{"text":"list"}\' <serve>/api/run',
          ].join('\n'),
        },
        {
          type: 'text',
          text: `Conveyor keeps only its hash. \`token list\` shows your tokens; \`token revoke ${record.id}\` ends this one.`,
        },
      ],
      {
        ephemeral: true,
        data,
        storedAs: okReply(
          `Your API token ${named}(id ${record.id}) was shown once when it was created and is not kept; if you did not copy it, revoke it with \`token revoke ${record.id}\` and create another`,
          [],
          { ephemeral: true, data },
        ),
      },
    );
  },
});

export const tokenList = defineCommand({
  name: 'token list',
  summary: 'List your personal API tokens',
  usage: 'token list',
  help: 'Your tokens, newest first: id, label, when created, when last used, and whether revoked. Never the tokens themselves.',
  positionals: [],
  flags: {},
  schema: z.object({}),
  mutates: false,
  async run(_args, ctx) {
    const tokens = await tokenStore(ctx).list(ctx.user);
    const now = ctx.runtime.clock.now();
    const active = tokens.filter((t) => !t.revokedAt).length;
    return okReply(
      tokens.length
        ? `You have ${active} active API token(s)${tokens.length > active ? ` and ${tokens.length - active} revoked` : ''}`
        : 'You have no API tokens; in Slack, `token create [label]` makes one',
      tokens.length
        ? [
            {
              type: 'table',
              header: ['id', 'label', 'created', 'last used', 'state'],
              rows: tokens.map((t) => tokenRow(t, now)),
            },
          ]
        : [],
      { ephemeral: true, data: { tokens } },
    );
  },
});

export const tokenRevoke = defineCommand({
  name: 'token revoke',
  summary: 'Revoke one of your personal API tokens',
  usage: 'token revoke <token-id>',
  help: 'Ends a token at once: the CLI and the HTTP API refuse it from then on. Give its id (see `token list`), never the token itself.',
  positionals: ['token-id'],
  flags: {},
  // Never the token itself: a token pasted here is refused by its shape, never echoed.
  schema: z.object({
    'token-id': z.string().regex(TOKEN_ID, "the token's id (12 letters or digits, see `token list`), not the token"),
  }),
  mutates: true,
  async run(args, ctx) {
    const id = args['token-id'];
    const store = tokenStore(ctx);
    const mine = await store.list(ctx.user);
    const own = mine.find((t) => t.id === id);
    if (!own) {
      await ctx.runtime.store.audit(ctx.user, 'token.revoke.refused', null, { id });
      const ids = mine.filter((t) => !t.revokedAt).map((t) => t.id);
      throw new NotFoundError(`you have no token "${id}"${didYouMean(id, ids)}; \`token list\` shows yours`);
    }
    if (!(await store.revoke(own.id, ctx.user)))
      return okReply(`Token ${own.id} was already revoked`, [], { ephemeral: true });
    await ctx.runtime.store.audit(ctx.user, 'token.revoked', null, { id: own.id, label: own.label });
    return okReply(
      `Revoked token ${own.id}${own.label ? ` "${own.label}"` : ''}: the CLI and the HTTP API refuse it from now on`,
      [],
      { ephemeral: true },
    );
  },
});
