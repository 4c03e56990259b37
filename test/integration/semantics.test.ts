/**
 * Named regressions for answers that used to be untrue (issue "Semantics you can trust"): each
 * `it` is one case a user met, driven through the command surface on real Git repositories.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import type { GitHost } from '../../src/core/ports.js';
import { exitCodeOf } from '../../src/core/reply.js';
import { journalChain } from '../../src/server/wiring.js';
import { head, pushCommit, tagMessage, tagNames, treeOf } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

/** Who approves in the sandbox, per environment. */
const APPROVERS: Record<string, string[]> = { staging: ['U_QA'], prod: ['U_LEAD', 'U_PO'] };

/** Type a suggested command as `user`, approve it as the sandbox's approvers, and say how it ended. */
async function follow(t: TestRuntime, command: string, user: string): Promise<string> {
  const reply = await t.run(command, user);
  expect(reply.status, `"${command}" was suggested, so it must be accepted: ${reply.title}`).toBe('ok');
  let state = reply.operation?.state ?? 'done';
  for (const approver of APPROVERS[command.split(' ')[2] ?? ''] ?? []) {
    if (state !== 'awaiting-approval' || approver === user) continue;
    state = (await t.run(`approve ${reply.operation!.id}`, approver)).operation?.state ?? state;
  }
  return state;
}

const suggestions = (reply: { data?: unknown }) =>
  (reply.data as { suggestions?: string[] } | undefined)?.suggestions ?? [];

describe('semantics you can trust', () => {
  let t: TestRuntime;
  let repo: string;
  beforeEach(async () => {
    t = await makeRuntime();
    repo = t.repo('api');
  });
  afterEach(async () => t?.close());

  it('a second rollback walks further back instead of re-shipping the version just rolled back from', async () => {
    // qa: sandbox v1.4.0 (tag) → promote develop (v1.4.1) → a new develop commit promoted (v3)
    const v140 = treeOf(repo, 'qa');
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const v141 = treeOf(repo, 'qa');
    pushCommit(repo, 'develop', { path: 'src/v3.ts', content: 'export const v = 3;\n', message: 'Version three' });
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const v3 = treeOf(repo, 'qa');

    expect((await t.run('rollback api qa')).operation?.state).toBe('succeeded');
    expect(treeOf(repo, 'qa')).toBe(v141);
    expect((await t.run('rollback api qa')).operation?.state).toBe('succeeded');
    expect(treeOf(repo, 'qa')).toBe(v140); // not back to v3, which qa rolled back from
    const third = await t.run('rollback api qa');
    expect(third.status).toBe('ok');
    expect(third.title).toMatch(/^nothing to roll back to/);
    expect(treeOf(repo, 'qa')).toBe(v140);

    const history = await t.run('history api qa');
    const rows = (history.data as { history: { tag: string; mark: string }[] }).history;
    // newest first: rollback to v1.4.0, rollback to v1.4.1, promote v3, promote v1.4.1, the sandbox's v1.4.0
    expect(rows.map((r) => r.mark)).toEqual([
      'current',
      'rolled-back-from',
      'rolled-back-from',
      'rolled-back-from',
      'superseded',
    ]);
    expect(history.text).toContain('rolled back from');
    // the rollback tag names the version it left
    const newest = rows[0]!.tag;
    expect(tagMessage(repo, newest)).toContain(`Rolled-Back-From-Tree: ${v141}`);
    expect(tagMessage(repo, rows[1]!.tag)).toContain(`Rolled-Back-From-Tree: ${v3}`);
  });

  it('rollback --to refuses a tag of another environment and lists the versions that ran there', async () => {
    const prodTag = tagNames(repo, 'prod/')[0]!;
    const before = head(repo, 'qa');
    const reply = await t.run(`rollback api qa --to ${prodTag}`);
    expect(reply.status).toBe('refused');
    expect(exitCodeOf(reply)).toBe(1);
    expect(reply.title).toContain(
      `${prodTag} is a deploy tag of prod, not of qa; rollback --to takes a version that ran in qa:`,
    );
    expect(head(repo, 'qa')).toBe(before);
    // a sha that ran in qa is accepted
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const back = await t.run(`rollback api qa --to ${before.slice(0, 10)}`);
    expect(back.operation?.state).toBe('succeeded');
    expect(treeOf(repo, 'qa')).toBe(treeOf(repo, before));
  });

  it("diff's advice for stages that are not adjacent is accepted when typed, one after the other", async () => {
    const reply = await t.run('diff development prod api');
    expect(suggestions(reply)).toEqual(['promote api qa', 'promote api staging', 'promote api prod']);
    for (const command of suggestions(reply)) expect(await follow(t, command, 'U_DEMO')).toBe('succeeded');
    expect(treeOf(repo, 'prod')).toBe(treeOf(repo, 'develop'));
    expect((await t.run('diff development prod api')).title).toBe('prod is in sync with development');
  });

  it("diff's advice when the destination is ahead: a rollback --to it accepts, or the honest reason", async () => {
    // qa runs v1.4.0, staging v1.3.0 (which qa never ran): nothing brings qa back to it
    const never = await t.run('diff staging qa api');
    expect(suggestions(never)).toEqual([]);
    expect(never.text).toContain("qa never ran staging's version");
    // after qa moves on, staging's... no: promote qa, then diff from a stage holding qa's old version
    const old = head(repo, 'qa');
    expect((await t.run('promote api staging')).operation?.state).toBe('awaiting-approval');
    await t.run(
      `approve ${(await t.runtime.store.operations({ env: 'staging', states: ['awaiting-approval'] }))[0]!.id}`,
      'U_QA',
    );
    expect(treeOf(repo, 'staging')).toBe(treeOf(repo, old));
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const ahead = await t.run('diff staging qa api');
    expect(suggestions(ahead)).toHaveLength(1);
    expect(suggestions(ahead)[0]).toMatch(/^rollback api qa --to qa\//);
    expect(await follow(t, suggestions(ahead)[0]!, 'U_DEMO')).toBe('succeeded');
    expect(treeOf(repo, 'qa')).toBe(treeOf(repo, 'staging'));
  });

  it('dry-run predicts refusals: lock, freeze, requester, missing ticket, failing checks; exit 1 like the real request', async () => {
    const cases: {
      setup: () => Promise<void> | void;
      command: string;
      user?: string;
      reason: RegExp;
      undo: () => Promise<void> | void;
    }[] = [
      {
        setup: async () => void (await t.run('lock api qa release day', 'U_DEMO')),
        command: 'promote api qa',
        reason: /locked by U_DEMO: release day/,
        undo: async () => void (await t.run('unlock api qa', 'U_DEMO')),
      },
      {
        setup: () =>
          void t.config.environments[1]!.gate.freezes.push({
            from: '2000-01-01T00:00:00Z',
            to: '2100-01-01T00:00:00Z',
            reason: 'year-end freeze',
          }),
        command: 'promote api qa',
        reason: /qa is frozen: year-end freeze/,
        undo: () => void t.config.environments[1]!.gate.freezes.pop(),
      },
      {
        setup: () => void t.config.environments[1]!.gate.requesters.push('tech-lead'),
        command: 'promote api qa',
        reason: /only tech-lead may ask for changes in qa/,
        undo: () => void t.config.environments[1]!.gate.requesters.pop(),
      },
      {
        setup: () => {
          t.config.environments[1]!.gate.changeTicket = { required: true, verify: false };
        },
        command: 'promote api qa',
        reason: /qa needs a change ticket/,
        undo: () => {
          t.config.environments[1]!.gate.changeTicket = 'none';
        },
      },
      {
        setup: () => {
          t.config.environments[1]!.gate.requireChecks = true;
          const host = t.runtime.git.get('api')!;
          t.runtime.git.set('api', withChecks(host, 'failure'));
        },
        command: 'promote api qa',
        reason: /checks of \w+ are failing/,
        undo: () => {
          t.config.environments[1]!.gate.requireChecks = false;
          t.runtime.git.set('api', (t.runtime.git.get('api') as GitHost & { inner: GitHost }).inner);
        },
      },
    ];
    for (const c of cases) {
      await c.setup();
      const before = head(repo, 'qa');
      const dry = await t.run(`${c.command} --dry-run`, c.user);
      expect(dry.status, c.command).toBe('refused');
      expect(exitCodeOf(dry)).toBe(1);
      expect(dry.title).toMatch(c.reason);
      const real = await t.run(c.command, c.user);
      expect(real.status).toBe('refused');
      expect(real.title).toBe(dry.title);
      expect(head(repo, 'qa')).toBe(before);
      await c.undo();
    }
    // and with nothing in the way, the dry run says what the real one then does
    const dry = await t.run('promote api qa --dry-run');
    expect(dry.status).toBe('ok');
    expect(dry.text).toContain('needs no approval: it applies at once');
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
  });

  it('dry-run of a pull-request environment on a plain remote does not claim a direct push, and names its approvers', async () => {
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const dry = await t.run('promote api prod --dry-run');
    expect(dry.status).toBe('ok');
    expect(dry.text).not.toContain('pushed directly');
    expect(dry.text).toContain(
      "prod enters by pull request, but this remote has none: Conveyor's gate stands in for the review",
    );
    expect(dry.text).toContain('waits for approval, never by U_DEMO: 1 tech-lead (U_LEAD); 1 product-owner (U_PO)');
  });

  it('a reject that was done exits 0; a refused one exits 1', async () => {
    const asked = await t.run('promote api staging');
    const id = asked.operation!.id;
    const refused = await t.run(`reject ${id} not yours`, 'U_OUTSIDER');
    expect(refused.status).toBe('refused');
    expect(exitCodeOf(refused)).toBe(1);
    const done = await t.run(`reject ${id} not tested yet`, 'U_QA');
    expect(done.status).toBe('ok');
    expect(exitCodeOf(done)).toBe(0);
    expect(done.operation?.state).toBe('rejected');
    const again = await t.run(`reject ${id}`, 'U_QA');
    expect(exitCodeOf(again)).toBe(1);
    // the requester's own reject withdraws: also done, exit 0
    const mine = await t.run('promote api staging');
    const withdrawn = await t.run(`reject ${mine.operation!.id}`, 'U_DEMO');
    expect(exitCodeOf(withdrawn)).toBe(0);
    expect(withdrawn.operation?.state).toBe('cancelled');
  });

  it('a version qa rolled back from does not move on to staging unless forced by a staging approver', async () => {
    expect((await t.run('promote api qa')).operation?.state).toBe('succeeded');
    const bad = treeOf(repo, 'qa');
    expect((await t.run('rollback api qa')).operation?.state).toBe('succeeded');
    const tag = tagNames(repo, 'qa/').find((n) => treeOf(repo, n) === bad)!;
    const refused = await t.run(`promote api staging --version ${tag}`, 'U_DEMO');
    expect(refused.status).toBe('refused');
    expect(refused.title).toContain(
      `${tag} was rolled back from in qa, so it does not move on to staging; a newer version is not held back: commit a fix and promote it from development; --force would not help`,
    );
    const forced = await t.run(`promote api staging --version ${tag} --force`, 'U_DEMO');
    expect(forced.title).toContain('--force into staging needs one of its approver roles (qa-lead)');
    // the only qa-lead forcing it could never get the approval of another qa-lead: not suggested
    const alone = await t.run(`promote api staging --version ${tag}`, 'U_QA');
    expect(suggestions(alone)).toEqual([]);
    expect(alone.title).toContain(
      "--force would not help: whoever forces it still needs 1 qa-lead approval(s) from others, and staging's roles have too few people",
    );
    t.config.roles['qa-lead']!.users.push('U_QA2');
    const byLead = await t.run(`promote api staging --version ${tag}`, 'U_QA');
    expect(suggestions(byLead)).toEqual([`promote api staging --version ${tag} --force`]);
    const accepted = await t.run(suggestions(byLead)[0]!, 'U_QA');
    expect(accepted.operation?.state).toBe('awaiting-approval');
    expect(accepted.text).toContain('forced past the rollback in qa');
  });

  // found when a new user tried the change (review of the semantics issue)

  it('a request nobody else could ever approve is refused at once, and its dry-run says so', async () => {
    const dry = await t.run('promote api prod --dry-run', 'U_LEAD');
    expect(dry.status).toBe('refused');
    expect(dry.title).toBe(
      'prod needs 1 tech-lead approval(s) from someone other than the requester, and nobody but you can give one: this request could never be approved',
    );
    const real = await t.run('promote api prod', 'U_LEAD');
    expect(real.title).toBe(dry.title);
    expect(await t.runtime.store.operations({ env: 'prod', states: ['awaiting-approval'] })).toEqual([]);
  });

  it('a version pushed by hand and rolled back from stays in the history, and --to finds it', async () => {
    const hand = pushCommit(repo, 'qa', { path: 'hotfix.txt', content: 'by hand\n' });
    const current = await t.run(`rollback api qa --to ${hand.slice(0, 10)}`);
    expect(current.title).toBe(`qa already runs the version of ${hand.slice(0, 10)}`);
    expect((await t.run('rollback api qa')).operation?.state).toBe('succeeded');
    const history = await t.run('history api qa');
    const rows = (history.data as { history: { tag: string | null; sha: string; kind: string; mark: string }[] })
      .history;
    expect(rows[1]).toMatchObject({ tag: null, sha: hand, kind: 'pushed by hand', mark: 'rolled-back-from' });
    expect(history.title).toBe(`Deploy history of api in qa: ${rows.length} version(s)`);
    const back = await t.run(`rollback api qa --to ${hand.slice(0, 10)}`);
    expect(back.operation?.state).toBe('succeeded');
    expect(treeOf(repo, 'qa')).toBe(treeOf(repo, hand));
    expect(back.text).toContain('which qa rolled back from');
  });

  it("--to explains itself: a short sha, another environment's tag, something that does not exist", async () => {
    const short = await t.run('rollback api qa --to 20be');
    expect(short.status).toBe('usage');
    expect(short.title).toContain('too short for a sha');
    const stagingTag = tagNames(repo, 'staging/')[0]!;
    expect((await t.run(`rollback api qa --to ${stagingTag}`)).title).toMatch(
      new RegExp(
        `^${stagingTag} is a deploy tag of staging, not of qa; rollback --to takes a version that ran in qa: `,
      ),
    );
    expect((await t.run('rollback api qa --to qa')).title).toMatch(/^there is no deploy tag or commit "qa"/);
  });

  it("diff's advice stops before a later stage that would be refused, and says why", async () => {
    t.config.environments[3]!.gate.changeTicket = { required: true, verify: false };
    const reply = await t.run('diff development prod api');
    expect(suggestions(reply)).toEqual(['promote api qa', 'promote api staging']);
    expect(reply.text).toContain('after that, `promote api prod` would be refused now: prod needs a change ticket');
  });

  it('unlock of one app under a * lock says which lock holds it', async () => {
    expect((await t.run('lock * qa release', 'U_DEMO')).status).toBe('ok');
    const reply = await t.run('unlock api qa', 'U_DEMO');
    expect(reply.status).toBe('refused');
    expect(reply.title).toContain(
      'api in qa is not locked by itself: every app in qa is (by U_DEMO: release); lift that with: unlock * qa',
    );
    expect(suggestions(reply)).toEqual(['unlock * qa']);
    expect((await t.run(suggestions(reply)[0]!, 'U_DEMO')).status).toBe('ok');
  });
});

describe('configuration that cannot lie', () => {
  const problems = (yaml: string): string[] => {
    try {
      parseConfig(yaml);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };
  const envs = (prodGate: string, firstGate = '') => `environments:
  - name: development
    branch: develop
${firstGate}  - name: prod
    branch: prod
    gate:
${prodGate}
roles:
  tech-lead: { users: [U_LEAD] }
`;

  it('changeTicket: required without ServiceNow is refused; { required: true, verify: false } is explicit', () => {
    expect(problems(envs('      changeTicket: required')).join('\n')).toMatch(/changeTicket.*no servicenow: block/);
    expect(problems(envs('      changeTicket: { required: true, verify: false }'))).toEqual([]);
    expect(
      problems(`${envs('      changeTicket: required')}servicenow: { baseUrl: "https://sn.example.com" }\n`),
    ).toEqual([]);
  });

  it('a gate on the first environment, which nothing promotes into, is refused', () => {
    const first = '    gate:\n      roles: { tech-lead: 1 }\n';
    expect(problems(envs('      roles: { tech-lead: 1 }', first)).join('\n')).toMatch(
      /development is the first environment.*gate roles would never apply/,
    );
    // freezes do apply there (to its rollbacks)
    expect(
      problems(
        envs(
          '      roles: { tech-lead: 1 }',
          '    gate:\n      freezes: [{ from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: x }]\n',
        ),
      ),
    ).toEqual([]);
  });

  it('settings that would fail later fail at load: tag format, state URL, a freeze that ends before it starts', () => {
    expect(
      problems(`${envs('      roles: { tech-lead: 1 }')}git: { tagFormat: "{env}/{yyyy}..{n}" }\n`).join('\n'),
    ).toMatch(/tagFormat.*invalid tag name/);
    expect(problems(`${envs('      roles: { tech-lead: 1 }')}git: { tagFormat: "{env}/{yyyy}" }\n`).join('\n')).toMatch(
      /needs \{n\}/,
    );
    expect(problems(`${envs('      roles: { tech-lead: 1 }')}state: { url: "mysql://x" }\n`).join('\n')).toMatch(
      /state\.url/,
    );
    expect(
      problems(
        envs(
          '      roles: { tech-lead: 1 }\n      freezes: [{ from: "2027-01-04T00:00:00Z", to: "2026-12-20T00:00:00Z", reason: x }]',
        ),
      ).join('\n'),
    ).toMatch(/ends before it starts/);
  });
});

describe('the journal chain tells the truth', () => {
  let t: TestRuntime;
  beforeEach(async () => {
    t = await makeRuntime();
  });
  afterEach(async () => t?.close());

  async function register(n: number): Promise<string> {
    const version = `2026.11.25-dev-modelling.${n}`;
    const { version: v, created } = await t.runtime.journal.register({
      version,
      cluster: 'dev-modelling',
      file: `j${n}.dat`,
      size: 10 + n,
      sha256: createHash('sha256').update(String(n)).digest('hex'),
      ticket: null,
      mandators: ['tech-head'],
      objectKey: `journals/dev-modelling/${version}/j${n}.dat`,
      uploadedAt: new Date().toISOString(),
    } as never);
    await journalChain(t.runtime).onRegistered(v, created);
    return version;
  }
  const imported = (env: string, version: string, ok = true) =>
    journalChain(t.runtime).onImport({
      env,
      version,
      ok,
      exitCode: ok ? 0 : 3,
      durationMs: Math.floor(Math.random() * 1e6),
      outputTail: '',
      error: ok ? null : 'exit 3',
    });
  const pointer = async (env: string) => (await t.runtime.kv.get(`journal_version/${env}`))?.value;

  it('a version qa rolled back from does not reach dit, and status says what will really happen', async () => {
    const v1 = await register(1);
    await imported('dev', v1);
    await imported('qa', v1);
    const v2 = await register(2);
    await imported('dev', v2);
    expect(await pointer('qa')).toBe(v2); // qa follows dev automatically on dev's import
    await imported('qa', v2);
    const back = await t.run('journal rollback qa', 'U_DEMO');
    expect(back.operation?.state).toBe('succeeded');
    expect(await pointer('qa')).toBe(v1);
    await imported('qa', v1);

    const refused = await t.run(`journal promote dit --version ${v2}`, 'U_DEMO');
    expect(refused.status).toBe('refused');
    expect(refused.title).toContain(`${v2} was rolled back from in qa, so it does not move on to dit`);
    const status = await t.run('journal status', 'U_DEMO');
    expect(status.text).not.toContain('follows automatically');
    for (const command of suggestions(status)) {
      const reply = await t.run(command, 'U_DEMO');
      expect(reply.status, command).toBe('ok');
      if (reply.operation?.state === 'awaiting-approval') await t.run(`approve ${reply.operation.id}`, 'U_QA');
    }
    expect(await pointer('dit')).toBe(v1);
    // a second journal rollback of qa does not toggle back to v2
    const again = await t.run('journal rollback qa', 'U_DEMO');
    expect(again.title).toMatch(/no earlier successfully imported version/);
    expect(await pointer('qa')).toBe(v1);
  });

  it('journal retry re-runs a failed import without moving a pointer by hand', async () => {
    const v1 = await register(1);
    await imported('dev', v1, false);
    const status = await t.run('journal status', 'U_DEMO');
    expect(suggestions(status)).toEqual(['journal retry dev']);
    const before = await t.runtime.kv.get('journal_version/dev');
    const retry = await t.run('journal retry dev', 'U_DEMO');
    expect(retry.status).toBe('ok');
    const after = await t.runtime.kv.get('journal_version/dev');
    expect(after?.value).toBe(v1);
    expect(after!.modifyIndex).toBeGreaterThan(before!.modifyIndex);
    await imported('dev', v1);
    expect((await t.run('journal retry dev', 'U_DEMO')).title).toContain('imported');
    expect(await pointer('qa')).toBe(v1);
  });
});

/** The app's Git host, with its CI checks answering `state` (as GitHub's combined status would). */
function withChecks(inner: GitHost, state: 'failure' | 'pending' | 'success'): GitHost & { inner: GitHost } {
  return Object.assign(Object.create(inner) as GitHost, { inner, checks: async () => state });
}
