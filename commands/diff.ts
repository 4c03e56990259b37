import { z } from 'zod';
import { adviseSync } from '../src/core/advice.js';
import { defineCommand } from '../src/core/command.js';
import { hostFor, mapLimit, readAppStates } from '../src/core/env-state.js';
import { InputError } from '../src/core/errors.js';
import { shortSha, truncate } from '../src/core/format.js';
import { okReply, type ReplyBlock } from '../src/core/reply.js';
import { shownTag } from '../src/core/tag-names.js';
import { versionBlocks } from '../src/core/version-comparison-view.js';
import { appArg, envArg, FRESH_FLAG, readerMaxAgeMs, requireApp, requireEnv } from './args.js';

const MAX_ITEMS = 30;

export const diff = defineCommand({
  name: 'diff',
  summary: 'Show what <dst_env> lacks compared with <src_env>',
  usage: 'diff <src_env> <dst_env> [<app>] [--fresh]',
  help:
    'Per app: the deploy tags on both sides, the commits <dst_env> lacks, the changed files with +/- counts, ' +
    'a compare link (GitHub), and the commands that bring <dst_env> up to <src_env>, each one Conveyor would accept from you now ' +
    '(a promote, a promote per stage in between, a --version promote where the target allows skipping, or a rollback --to when <dst_env> ran that version); ' +
    'when none would be accepted, why. "in sync" when the trees are equal.',
  positionals: ['src', 'dst', 'app?'],
  flags: FRESH_FLAG,
  schema: z.object({ src: envArg, dst: envArg, app: appArg.optional(), fresh: z.boolean().optional() }),
  mutates: false,
  async run(args, ctx) {
    const { runtime } = ctx;
    const src = requireEnv(ctx, args.src);
    const dst = requireEnv(ctx, args.dst);
    if (src.name === dst.name) throw new InputError('compare two different environments', diff.usage);
    const apps = args.app ? [requireApp(ctx, args.app)] : runtime.config.apps;
    const sections = await mapLimit(
      apps,
      8,
      async (app): Promise<{ blocks: ReplyBlock[]; inSync: boolean; suggestions?: string[] }> => {
        const states = await readAppStates(runtime, app, {
          maxAgeMs: readerMaxAgeMs(args.fresh, ctx.source),
          trustWatcher: true,
        });
        const s = states.find((x) => x.env.name === src.name)!;
        const d = states.find((x) => x.env.name === dst.name)!;
        const host = hostFor(runtime, app);
        const name = (x: typeof s) => (x.tag ? shownTag(host, x.tag.name) : shortSha(x.head));
        const head = `${app.name}: ${src.name} ${name(s)} ↔ ${dst.name} ${name(d)}`;
        if (!s.head)
          return { inSync: false, blocks: [{ type: 'text', text: `${head} — ${src.name} has no branch yet` }] };
        if (s.tree === d.tree) return { inSync: true, blocks: [{ type: 'text', text: `${head} — in sync` }] };
        // Image apps: both image references and the application commits between them.
        const versions = (await host.compareVersions?.(d.head, s.head)) ?? null;
        const lacking = d.head ? await host.log(d.head, s.head, 1000) : await host.log(null as never, s.head, 1000);
        const extra = d.head ? await host.log(s.head, d.head, 1000) : [];
        const files = d.head ? await host.diffStat(d.head, s.head) : [];
        const advice = await adviseSync(runtime, app, states, src.name, dst.name, ctx.user);
        // A later stage with commits of its own was most likely rolled back; an earlier one is simply ahead.
        const later =
          runtime.config.environments.findIndex((e) => e.name === dst.name) >
          runtime.config.environments.findIndex((e) => e.name === src.name);
        const hint = later ? ' (e.g. a rollback)' : ` (${dst.name} comes before ${src.name}: it is ahead)`;
        // After a rollback dst may hold every commit of src and still run another tree: say so,
        // rather than "lacks 0 commit(s)" over an empty list.
        const summary = lacking.length
          ? `${dst.name} lacks ${lacking.length} commit(s)${extra.length ? ` and has ${extra.length} of its own${hint}` : ''}`
          : `${dst.name} has every commit of ${src.name} but runs another version; it has ${extra.length} of its own${hint}`;
        const blocks: ReplyBlock[] = [
          { type: 'text', text: versions ? `${head} — ${dst.name} runs another image` : `${head} — ${summary}` },
        ];
        if (versions) blocks.push(...versionBlocks(versions, { from: dst.name, to: src.name }));
        else if (lacking.length) {
          blocks.push({
            type: 'list',
            title: 'commits',
            items: [
              ...lacking.slice(0, MAX_ITEMS).map((c) => `${shortSha(c.sha)} ${truncate(c.subject, 72)} (${c.author})`),
              ...(lacking.length > MAX_ITEMS ? [`…and ${lacking.length - MAX_ITEMS} more`] : []),
            ],
          });
        }
        if (files.length && !versions) {
          const added = files.reduce((n, f) => n + f.added, 0);
          const deleted = files.reduce((n, f) => n + f.deleted, 0);
          blocks.push({
            type: 'list',
            title: `${files.length} file(s) changed, +${added} -${deleted}`,
            items: [
              ...files.slice(0, MAX_ITEMS).map((f) => `${f.path} +${f.added} -${f.deleted}`),
              ...(files.length > MAX_ITEMS ? [`…and ${files.length - MAX_ITEMS} more`] : []),
            ],
          });
        }
        if (host.compareUrl && d.head)
          blocks.push({ type: 'text', text: `compare: ${host.compareUrl(d.head, s.head)}` });
        if (advice.blocked) blocks.push({ type: 'text', text: advice.blocked });
        if (advice.commands.length) {
          blocks.push({
            type: 'text',
            text:
              advice.commands.length > 1
                ? `to bring ${dst.name} up to ${src.name}, one after the other:`
                : `to bring ${dst.name} up to ${src.name}:`,
          });
          blocks.push({ type: 'code', text: advice.commands.join('\n') });
        }
        return { inSync: false, blocks, suggestions: advice.commands };
      },
    );
    const behind = sections.filter((s) => !s.inSync).length;
    return okReply(
      behind
        ? `${dst.name} differs from ${src.name} for ${behind} of ${apps.length} app(s)`
        : `${dst.name} is in sync with ${src.name}`,
      sections.flatMap((s) => s.blocks),
      { data: { suggestions: sections.flatMap((s) => s.suggestions ?? []) } },
    );
  },
});
