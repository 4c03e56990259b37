/**
 * Serialisation per (app, env): many people asking at once, manual locks (also `*`),
 * redelivered requests, and branches moved by someone else while an operation runs.
 * Plain `git` on the bare repository is the truth.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { PlainGitHost } from '../../src/adapters/git-plain.js';
import { ConflictError } from '../../src/core/errors.js';
import type { GitHost } from '../../src/core/ports.js';
import { planPromotion } from '../../src/core/promotion-plan.js';
import { findApp } from '../../src/core/runtime.js';
import {
  git,
  head,
  isAncestor,
  parentsOf,
  pushCommit,
  refsOf,
  tagNames,
  tagsAt,
  treeOf,
} from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

describe('locks and concurrency', () => {
  let t: TestRuntime;
  let repo: string;
  beforeAll(async () => {
    t = await makeRuntime();
    repo = t.repo('api');
  });
  afterAll(async () => t?.close());

  it('20 people promote api qa at once: one operation moves qa once, the others are told who holds it', async () => {
    const develop = head(repo, 'develop');
    const tagsBefore = tagNames(repo, 'qa/');
    const users = Array.from({ length: 20 }, (_, i) => `U_C${i + 1}`);
    const replies = await Promise.all(users.map((u, i) => t.run('promote api qa', u, `burst-${i}`)));

    const winners = replies.filter((r) => r.operation?.state === 'succeeded');
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    const holder = users[replies.indexOf(winner)]!;
    for (const r of replies) {
      if (r === winner) continue;
      // refused while the winner holds the lock; or, planned after it finished, nothing left to do
      if (r.status === 'refused') {
        expect(r.title).toBe(`api in qa is busy with promote ${winner.operation!.id} (asked by ${holder})`);
      } else {
        expect(r.title).toMatch(/^nothing to promote: qa already runs/);
        expect(r.operation).toBeUndefined();
      }
    }
    expect(replies.filter((r) => r.status === 'refused').length).toBeGreaterThan(0);

    expect(head(repo, 'qa')).toBe(develop);
    const newTags = tagNames(repo, 'qa/').filter((n) => !tagsBefore.includes(n));
    expect(newTags).toHaveLength(1);
    expect(tagsAt(repo, develop, 'qa/')).toEqual(newTags);
    const ops = await t.runtime.store.operations({ app: 'api', env: 'qa', limit: 100 });
    expect(ops.filter((o) => o.state === 'succeeded').map((o) => o.id)).toEqual([winner.operation!.id]);
    expect(
      ops.every(
        (o) =>
          o.state === 'succeeded' ||
          (o.state === 'cancelled' &&
            o.error === `api in qa is busy with promote ${winner.operation!.id} (asked by ${holder})`),
      ),
    ).toBe(true);
    expect(await t.runtime.store.locksFor('api', 'qa')).toEqual([]);
  }, 240_000); // 20 plans, each fetching the mirror: slow on a loaded 2-core machine

  it('a manual lock refuses promotions with its reason until unlock', async () => {
    pushCommit(repo, 'develop', { message: 'Speed up the search' });
    expect((await t.run('lock api qa freeze for release', 'U_DEMO')).title).toBe(
      'Locked api in qa: freeze for release',
    );
    const before = refsOf(repo);
    const refused = await t.run('promote api qa', 'U_DEMO');
    expect(refused.status).toBe('refused');
    expect(refused.title).toBe('api in qa is locked by U_DEMO: freeze for release');
    expect(refsOf(repo)).toBe(before);
    expect((await t.run('lock api qa again', 'U_QA')).title).toBe('already locked by U_DEMO: freeze for release');

    expect((await t.run('unlock api qa', 'U_DEMO')).title).toBe('Unlocked api in qa');
    expect((await t.run('promote api qa', 'U_DEMO')).operation?.state).toBe('succeeded');
    expect(head(repo, 'qa')).toBe(head(repo, 'develop'));
  });

  it('lock * prod blocks every app (web too); only prod approvers may set it', async () => {
    expect((await t.run('lock * prod incident 4711', 'U_DEMO')).title).toBe(
      'only tech-lead, product-owner may lock or unlock prod',
    );
    expect((await t.run('lock * prod incident 4711', 'U_LEAD')).title).toBe('Locked every app in prod: incident 4711');
    for (const app of ['web', 'api']) {
      const r = await t.run(`promote ${app} prod`, 'U_DEMO');
      expect(r.status).toBe('refused');
      expect(r.title).toBe('every app in prod is locked by U_LEAD: incident 4711');
    }
    // other environments are not affected
    expect((await t.run('promote web qa', 'U_DEMO')).operation?.state).toBe('succeeded');
    expect((await t.run('unlock * prod', 'U_LEAD')).title).toBe('Unlocked every app in prod');
    const after = await t.run('promote web prod', 'U_DEMO');
    expect(after.operation?.state).toBe('awaiting-approval');
    expect((await t.run(`reject ${after.operation!.id}`, 'U_DEMO')).operation?.state).toBe('cancelled');
  });

  it('a redelivered request (same idempotency key) gets the first answer and no second operation', async () => {
    pushCommit(repo, 'develop', { message: 'Tune the connection pool' });
    const count = (await t.runtime.store.operations({ limit: 1000 })).length;
    const qaTags = tagNames(repo, 'qa/').length;
    const first = await t.run('promote api qa', 'U_DEMO', 'slack-trigger-42');
    expect(first.operation?.state).toBe('succeeded');
    const [again, concurrent] = await Promise.all([
      t.run('promote api qa', 'U_DEMO', 'slack-trigger-42'),
      t.run('promote api qa', 'U_DEMO', 'slack-trigger-42'),
    ]);
    for (const r of [again, concurrent]) {
      expect(r.operation).toEqual(first.operation);
      expect(r.title).toBe(first.title);
    }
    expect((await t.runtime.store.operations({ limit: 1000 })).length).toBe(count + 1);
    expect(tagNames(repo, 'qa/').length).toBe(qaTags + 1);
  });

  it('prod moved by someone else while awaiting approval: re-planned on their commit, never clobbered', async () => {
    const staging = head(repo, 'staging');
    const asked = await t.run('promote api prod', 'U_DEMO');
    const id = asked.operation!.id;
    const foreign = pushCommit(repo, 'prod', { path: 'HOTFIX.md', message: 'Hotfix straight on prod' });
    await t.run(`approve ${id}`, 'U_LEAD');
    const done = await t.run(`approve ${id}`, 'U_PO');
    const now = head(repo, 'prod');
    expect(done.operation?.state).toBe('succeeded'); // the engine re-plans once on the new head
    expect(isAncestor(repo, foreign, now)).toBe(true);
    expect(parentsOf(repo, now)).toEqual([foreign]);
    expect(treeOf(repo, now)).toBe(treeOf(repo, staging));
    expect(tagsAt(repo, now, 'prod/')).toHaveLength(1);
    expect((await t.runtime.store.operation(id)).progress.replanned).toBe(true);
  });

  it('qa moved by someone else just before the push: re-planned, their commit kept', async () => {
    pushCommit(repo, 'develop', { message: 'Add request ids to logs' });
    const real = t.runtime.git.get('api')!;
    let foreign: string | null = null;
    const racing = new Proxy(real, {
      get(target, prop, receiver) {
        // The branch's write, with its deploy tag (plain Git) or without.
        if (prop === 'updateBranch' || prop === 'updateBranchWithTag') {
          return async (...args: Parameters<NonNullable<GitHost['updateBranchWithTag']>>) => {
            if (args[0] === 'qa' && !foreign)
              foreign = pushCommit(repo, 'qa', { path: 'QA-NOTE.md', message: 'Test data fix on qa' });
            return prop === 'updateBranch'
              ? target.updateBranch(...(args.slice(0, 3) as [string, string, string | null]))
              : target.updateBranchWithTag!(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as GitHost;
    t.runtime.git.set('api', racing);
    try {
      const qaTags = tagNames(repo, 'qa/').length;
      const reply = await t.run('promote api qa', 'U_DEMO');
      expect(reply.text).not.toContain('nothing to promote');
      expect(foreign).not.toBeNull();
      const now = head(repo, 'qa');
      expect(isAncestor(repo, foreign!, now)).toBe(true);
      expect(reply.operation?.state).toBe('succeeded');
      expect(parentsOf(repo, now)).toEqual([foreign]);
      expect(treeOf(repo, now)).toBe(treeOf(repo, 'develop'));
      expect(tagNames(repo, 'qa/').length).toBe(qaTags + 1);
      expect(tagsAt(repo, now, 'qa/')).toHaveLength(1);
    } finally {
      t.runtime.git.set('api', real);
    }
  });

  it('a request planned before someone else moved the branch to the same version does not tag it twice', async () => {
    pushCommit(repo, 'develop', { message: 'Add a changelog entry' });
    // planned while qa was behind (as a request racing the burst above can be), applied after
    const stale = await planPromotion(t.runtime, {
      app: findApp(t.runtime.config, 'api')!,
      env: 'qa',
      requester: 'U_DEMO',
    });
    expect((await t.run('promote api qa', 'U_DEMO')).operation?.state).toBe('succeeded');
    const qaHead = head(repo, 'qa');
    const qaTags = tagNames(repo, 'qa/');
    const op = await t.runtime.engine.request({
      kind: 'promote',
      app: 'api',
      env: 'qa',
      plan: stale,
      requester: 'U_C2',
      idempotencyKey: null,
      emergency: false,
      source: 'cli',
    });
    expect(head(repo, 'qa')).toBe(qaHead);
    expect(tagNames(repo, 'qa/')).toEqual(qaTags); // one deploy, one tag
    expect(op.state).toBe('failed');
    expect(op.error).toContain('already runs');
    expect(await t.runtime.store.locksFor('api', 'qa')).toEqual([]);
  });

  describe('a request planned in another serve, whose mirror has not fetched since the branch moved to the same version', () => {
    /**
     * Another serve's host on its own mirror of the same repository (two serves on one PostgreSQL):
     * its mirror fetched for the plan, before the branch moved; it fetches again only once its own
     * push is refused, as a mirror fetched moments ago does (step FRESH_MS).
     */
    async function otherServeRequest(moveBranch: () => Promise<void>) {
      // qa an ancestor of develop (earlier tests left a commit of its own on it): a fast-forward,
      // so both promotions push the very same commit
      git(repo, 'update-ref', 'refs/heads/qa', head(repo, 'develop'));
      pushCommit(repo, 'develop', { message: 'A change both serves promote' });
      const dir = mkdtempSync(join(tmpdir(), 'conveyor-other-serve-'));
      const other = new PlainGitHost(new GitMirror({ url: repo, dir: join(dir, 'api.git') }));
      let fetched = false;
      const stale = new Proxy(other, {
        get(target, prop, receiver) {
          if (prop === 'sync')
            return async (...args: Parameters<GitHost['sync']>) => (fetched ? undefined : target.sync(...args));
          if (prop === 'updateBranchWithTag' || prop === 'updateBranch') {
            return async (...args: unknown[]) => {
              fetched = false; // refused or not, what comes next reads the remote again
              return Reflect.apply(Reflect.get(target, prop, target) as (...a: unknown[]) => unknown, target, args);
            };
          }
          const value = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as GitHost;
      const real = t.runtime.git.get('api')!;
      // This serve's requests go through `stale`; the branch moves through the test runtime's own host.
      const asOther = async <T>(fn: () => Promise<T>): Promise<T> => {
        t.runtime.git.set('api', stale);
        try {
          return await fn();
        } finally {
          t.runtime.git.set('api', real);
        }
      };
      try {
        const plan = await asOther(() =>
          planPromotion(t.runtime, { app: findApp(t.runtime.config, 'api')!, env: 'qa', requester: 'U_OTHER' }),
        );
        expect(plan.mode).toBe('fast-forward');
        fetched = true; // from here until its push, this serve's mirror does not fetch
        await moveBranch();
        const qaHead = head(repo, 'qa');
        const qaTags = tagNames(repo, 'qa/');
        const op = await asOther(() =>
          t.runtime.engine.request({
            kind: 'promote',
            app: 'api',
            env: 'qa',
            plan,
            requester: 'U_OTHER',
            idempotencyKey: null,
            emergency: false,
            source: 'cli',
          }),
        );
        return { op, qaHead, qaTags };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    it('after a promotion through the first serve won (the same deploy tag name): it fails "already runs" and pushes nothing', async () => {
      const { op, qaHead, qaTags } = await otherServeRequest(async () => {
        expect((await t.run('promote api qa', 'U_WINNER')).operation?.state).toBe('succeeded');
      });
      expect(head(repo, 'qa')).toBe(qaHead);
      expect(tagNames(repo, 'qa/')).toEqual(qaTags); // one deploy, one tag
      expect(op.state).toBe('failed');
      expect(op.error).toMatch(/qa already runs [0-9a-f]{8}: it was moved there meanwhile by someone else/);
      expect(await t.runtime.store.locksFor('api', 'qa')).toEqual([]);
    });

    it('after someone moved the branch there by hand, untagged (a new deploy tag name): it fails "already runs", and no tag is left', async () => {
      const { op, qaHead, qaTags } = await otherServeRequest(async () => {
        git(repo, 'update-ref', 'refs/heads/qa', head(repo, 'develop'));
      });
      expect(head(repo, 'qa')).toBe(qaHead);
      expect(tagNames(repo, 'qa/')).toEqual(qaTags); // the hand-made move stays untagged
      expect(op.state).toBe('failed');
      expect(op.error).toMatch(/qa already runs [0-9a-f]{8}: it was moved there meanwhile by someone else/);
      expect(await t.runtime.store.locksFor('api', 'qa')).toEqual([]);
    });
  });

  it('a sweep that comes between a request storing its operation and taking the lock leaves the operation alone', async () => {
    const store = t.runtime.store;
    const acquire = store.acquireLock.bind(store);
    pushCommit(repo, 'develop', { message: 'swept too early?' });
    const qaBefore = head(repo, 'qa');
    let seen: { state: string; qa: string } | null = null;
    store.acquireLock = async (...args: Parameters<typeof store.acquireLock>) => {
      // This process's sweep, and another serve's (another worker), both before the lock is taken.
      await t.runtime.engine.sweep();
      expect(await store.claim(args[2], 'another-serve', 60_000)).toBeNull();
      seen = { state: (await store.operation(args[2])).state, qa: head(repo, 'qa') };
      return acquire(...args);
    };
    let reply: Awaited<ReturnType<TestRuntime['run']>>;
    try {
      reply = await t.run('promote api qa', 'U_SWEPT', 'swept-1');
    } finally {
      store.acquireLock = acquire;
    }
    expect(seen).toEqual({ state: 'requested', qa: qaBefore });
    expect(reply.operation?.state).toBe('succeeded');
    expect(head(repo, 'qa')).toBe(head(repo, 'develop'));
    expect(await store.locksFor('api', 'qa')).toEqual([]);
  });

  it('a lock that cannot be taken (the store keeps changing under it): the request is refused and its operation cancelled, never run by a sweep', async () => {
    const store = t.runtime.store;
    const acquire = store.acquireLock.bind(store);
    const qaBefore = head(repo, 'qa');
    pushCommit(repo, 'develop', { message: 'lock trouble' });
    store.acquireLock = async () => {
      throw new ConflictError('the lock on api in qa keeps changing; try again');
    };
    let reply: Awaited<ReturnType<TestRuntime['run']>>;
    try {
      reply = await t.run('promote api qa', 'U_LOCKLESS', 'lockless-1');
    } finally {
      store.acquireLock = acquire;
    }
    expect(reply.status).not.toBe('ok');
    expect(reply.text).toMatch(/keeps changing; try again/);
    const mine = (await store.operations({ app: 'api', env: 'qa' })).filter((o) => o.requester === 'U_LOCKLESS');
    expect(mine.map((o) => o.state)).toEqual(['cancelled']);
    await t.runtime.engine.sweep();
    expect(head(repo, 'qa')).toBe(qaBefore);
    expect((await store.operation(mine[0]!.id)).state).toBe('cancelled');
  });
});
