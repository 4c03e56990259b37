import { z } from 'zod';
import { applierView } from '../src/core/applier-view.js';
import { defineCommand } from '../src/core/command.js';
import { trailer } from '../src/core/deploy-tag.js';
import { mapLimit, readAppStates } from '../src/core/env-state.js';
import { ago, shortSha, truncate } from '../src/core/format.js';
import { lockText, type MatrixLock, type MatrixView, okReply } from '../src/core/reply.js';
import { underWatchUntil } from '../src/core/soak.js';
import { shownTag } from '../src/core/tag-names.js';
import { userNames } from '../src/core/user-names.js';
import { appArg, envArg, FRESH_FLAG, readerMaxAgeMs, requireApp, requireEnv } from './args.js';

export const list = defineCommand({
  name: 'list',
  summary: 'Show what every environment runs: tag, sha, how long it has run, who deployed, live state',
  usage: 'list [<app>] [<env>] [--fresh]',
  help:
    'Shows the matrix apps × environments: the deploy tag on the branch head (— when the head is untagged), ' +
    'the short sha, how long the environment has run it (since the deploy tag; "commit 3d ago" when the head is untagged: the commit\'s age), ' +
    'who deployed it, the live state reported by the controller ' +
    '(healthy, progressing, failed, drifted, unknown) and operations waiting for approval. ' +
    'Environments that enter by pull request show "(PR)"; on plain Git remotes their PRs fall back to Conveyor\'s own gate.',
  positionals: ['app?', 'env?'],
  flags: FRESH_FLAG,
  schema: z.object({ app: appArg.optional(), env: envArg.optional(), fresh: z.boolean().optional() }),
  mutates: false,
  async run(args, ctx) {
    const { runtime } = ctx;
    const apps = args.app ? [requireApp(ctx, args.app)] : runtime.config.apps;
    const envFilter = args.env ? requireEnv(ctx, args.env).name : null;
    const now = runtime.clock.now();
    const maxAgeMs = readerMaxAgeMs(args.fresh, ctx.source);
    // Soak windows are read only where an environment has one.
    const soaking = runtime.config.environments.some((e) => e.verify?.soak);
    const [states, live, pending, recent, locks] = await Promise.all([
      mapLimit(apps, 8, (app) => readAppStates(runtime, app, { maxAgeMs, trustWatcher: true })),
      runtime.store.liveStates(),
      runtime.store.operations({ states: ['awaiting-approval', 'approved', 'applying', 'verifying'], limit: 500 }),
      soaking ? runtime.store.operations({ states: ['succeeded'], limit: 500 }) : Promise.resolve([]),
      runtime.store.allLocks().then((all) => all.filter((l) => l.manual)),
    ]);
    const watchUntil = (app: string, env: string) => {
      const last = recent.find((o) => o.app === app && o.env === env && o.kind !== 'journal-seed');
      return last ? underWatchUntil(last, now) : null;
    };
    const rows: string[][] = [];
    const matrix: MatrixView = {
      envs: runtime.config.environments.map((e) => e.name).filter((e) => !envFilter || e === envFilter),
      apps: [],
      command: ['list', args.app && apps[0]!.name, envFilter].filter(Boolean).join(' '),
    };
    const deployers = states.flat().map((s) => (s.tag && trailer(s.tag.message, 'Requested-By')) || null);
    const nameOf = await userNames(runtime.directory, [...deployers, ...locks.map((l) => l.holder)]);
    /** The manual lock on (app, env): the app's own, else one on every app. */
    const lockOf = (app: string, env: string): MatrixLock | null => {
      const l = locks.find((x) => x.app === app && x.env === env) ?? locks.find((x) => x.app === '*' && x.env === env);
      if (!l) return null;
      return {
        by: nameOf(l.holder) || l.holder,
        reason: l.reason,
        since: l.at,
        until: null,
        allApps: l.app === '*',
        unlock: `unlock ${l.app} ${env}`,
      };
    };
    apps.forEach((app, i) => {
      const cells: MatrixView['apps'][number]['cells'] = [];
      for (const s of states[i]!) {
        if (envFilter && s.env.name !== envFilter) continue;
        const liveRow = live.find((l) => l.app === app.name && l.env === s.env.name);
        const waiting = pending.filter((o) => o.app === app.name && o.env === s.env.name);
        const host = runtime.git.get(app.name);
        const envLabel =
          s.env.enters === 'pull-request' ? `${s.env.name} (PR${host?.kind === 'git' ? ', gate' : ''})` : s.env.name;
        const deployer = s.tag && trailer(s.tag.message, 'Requested-By');
        const watching = watchUntil(app.name, s.env.name);
        // How long the environment has run this version: since its deploy tag; untagged, the commit's age, said so.
        const age = s.tag ? ago(s.tag.date, now) : s.commit ? `commit ${ago(s.commit.date, now)}` : null;
        // Where an applier is configured, the live state says what it reports (revision, health).
        const applier = app.targets[s.env.name]?.applier ? applierView(liveRow?.detail) : null;
        const locked = lockOf(app.name, s.env.name);
        const tagName = s.tag ? shownTag(host, s.tag.name) : null;
        rows.push([
          app.name,
          envLabel,
          tagName ?? '—',
          shortSha(s.head),
          age ?? '—',
          (deployer && nameOf(deployer)) || s.commit?.author || '—',
          `${liveRow ? liveRow.state : 'unknown'}${applier ? ` [${applier}]` : ''}${watching ? ` (under watch until ${watching.slice(11, 16)} UTC)` : ''}`,
          [...waiting.map((o) => `${o.kind} ${o.id} ${o.state}`), ...(locked ? [lockText(locked)] : [])].join('; '),
          s.commit ? truncate(s.commit.subject, 50) : '(no branch)',
        ]);
        cells.push({
          env: envLabel,
          version: s.head ? (tagName ?? shortSha(s.head)) : null,
          sha: s.head,
          age,
          live: liveRow ? liveRow.state : 'unknown',
          pending: waiting.map((o) => `${o.kind} ${o.id}`),
          watchUntil: watching,
          ...(applier ? { applier } : {}),
          lock: locked,
        });
      }
      matrix.apps.push({ name: app.name, cells });
    });
    return okReply(
      `${apps.length === 1 ? apps[0]!.name : `${apps.length} apps`} × ${envFilter ?? `${runtime.config.environments.length} environments`}`,
      [
        {
          type: 'table',
          header: ['app', 'env', 'deploy tag', 'sha', 'age', 'deployed by', 'live', 'pending', 'subject'],
          rows,
        },
      ],
      {
        matrix,
        data: {
          rows: rows.map((r) => ({
            app: r[0],
            env: r[1]!.split(' ')[0],
            tag: r[2],
            sha: r[3],
            age: r[4],
            live: r[6],
            pending: r[7],
          })),
        },
      },
    );
  },
});
