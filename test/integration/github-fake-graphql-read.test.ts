/**
 * The GitHub fake's GraphQL reads (graphql-reads.ts): refs, their commits and the comparisons
 * between environment branches, in the one query Conveyor's plan sends. Every answer is checked
 * against git itself, run in the fake's bare repository.
 */
import { execFileSync } from 'node:child_process';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { type SeededRepo, seedGitHubRepo } from '../support/github-repo-seed.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const owner = 'acme';
const repo = 'api';
const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

let gh: GitHubFake;
let octokit: Octokit;
let seeded: SeededRepo;

function git(...args: string[]): string {
  return execFileSync('git', ['--git-dir', seeded.dir, ...args], { encoding: 'utf8', env: GIT_ENV }).trim();
}
function gitEnv(env: Record<string, string>, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', seeded.dir, ...args], {
    encoding: 'utf8',
    env: { ...GIT_ENV, ...env },
  }).trim();
}

/** A commit as git itself shows it, in the shape the query's fragment asks for. */
function commitFromGit(oid: string) {
  const [sha, tree, name, email, date, committed, body] = git(
    'log',
    '-1',
    '--format=%H%x00%T%x00%an%x00%ae%x00%aI%x00%cI%x00%B',
    oid,
  ).split('\0');
  return {
    oid: sha,
    message: body!.replace(/\n+$/, ''),
    author: { name, email, date },
    committedDate: new Date(committed!).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    tree: { oid: tree },
  };
}
const range = (base: string, head: string) =>
  git('rev-list', '--topo-order', '--reverse', `${base}..${head}`).split('\n').filter(Boolean);

async function post(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${gh.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `bearer ${gh.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { data?: unknown; errors?: { message: string; type?: string }[] },
  };
}

const C = 'fragment C on Commit { oid message author { name email date } committedDate tree { oid } }';
const COMPARE = 'status aheadBy behindBy commits(last: 50) { totalCount nodes { ...C } }';

/** The query Conveyor's plan sends: each branch's head, and each compared with the one before. */
function liveRead(branches: string[]): string {
  const heads = branches.map((b, i) =>
    i === 0
      ? `h0: ref(qualifiedName: "refs/heads/${b}") { target { oid ...C } }`
      : `h${i}: ref(qualifiedName: "refs/heads/${b}") { target { oid ...C } compare(headRef: "${branches[i - 1]}") { ${COMPARE} } }`,
  );
  return `query ConveyorLiveRead($owner: String!, $name: String!) {
    repository(owner: $owner, name: $name) { id tags: refs(refPrefix: "refs/tags/", first: 1) { totalCount } ${heads.join('\n')} }
  }
  ${C}`;
}

type Read = {
  repository: {
    id: string;
    tags: { totalCount: number };
  } & Record<
    string,
    {
      target: { oid: string };
      compare?: {
        status: string;
        aheadBy: number;
        behindBy: number;
        commits: { totalCount: number; nodes: { oid: string }[] };
      } | null;
    } | null
  >;
};

beforeAll(async () => {
  gh = await startGitHubFake({ token: 'fake-token' });
  seeded = await seedGitHubRepo(gh, owner, repo);
  octokit = new Octokit({ auth: gh.token, baseUrl: gh.url, log: quiet });
});

afterAll(async () => {
  await gh?.close();
});

describe('GitHub fake GraphQL reads: refs, commits and comparisons as git has them', () => {
  it("answers Conveyor's live read: each head with its commit, each comparison with its commits", async () => {
    const read = await octokit.graphql<Read>(liveRead(['develop', 'qa', 'staging', 'prod']), { owner, name: repo });
    const rest = await octokit.rest.repos.get({ owner, repo });
    expect(read.repository.id).toBe(rest.data.node_id);
    expect(read.repository.tags.totalCount).toBe(git('for-each-ref', 'refs/tags/').split('\n').length);
    const branches = ['develop', 'qa', 'staging', 'prod'];
    for (const [i, b] of branches.entries()) {
      const head = git('rev-parse', `refs/heads/${b}`);
      expect(head).toBe(seeded.heads[b as keyof SeededRepo['heads']]);
      expect(read.repository[`h${i}`]?.target).toEqual(commitFromGit(head));
      if (i === 0) continue;
      const base = b;
      const newer = branches[i - 1]!;
      const commits = range(base, newer);
      expect(commits.length).toBeGreaterThan(0);
      expect(read.repository[`h${i}`]?.compare).toEqual({
        status: 'AHEAD',
        aheadBy: commits.length,
        behindBy: 0,
        commits: { totalCount: commits.length, nodes: commits.map(commitFromGit) },
      });
    }
  });

  it('shows a commit with its offset, whole message and headline, tree and parents', async () => {
    const tree = git('rev-parse', 'develop^{tree}');
    const parent = git('rev-parse', 'develop');
    const sha = gitEnv(
      {
        GIT_AUTHOR_NAME: 'Élodie Ops',
        GIT_AUTHOR_EMAIL: 'elodie@example.com',
        GIT_AUTHOR_DATE: '2024-05-01T10:00:00+02:00',
        GIT_COMMITTER_NAME: 'Merger',
        GIT_COMMITTER_EMAIL: 'merger@example.com',
        GIT_COMMITTER_DATE: '2024-05-02T09:30:00-05:00',
      },
      'commit-tree',
      tree,
      '-p',
      parent,
      '-m',
      'Ship the thing\n\nWith a body\nof two lines.',
    );
    git('update-ref', 'refs/heads/feature/offset', sha);
    const q = `query { repository(owner: "acme", name: "api") {
      ref(qualifiedName: "feature/offset") { name prefix target { __typename oid ...C ... on Commit { messageHeadline parents(first: 5) { totalCount nodes { oid } } } } }
    } } ${C}`;
    const read = await octokit.graphql<{ repository: { ref: Record<string, unknown> } }>(q);
    expect(read.repository.ref).toEqual({
      name: 'feature/offset',
      prefix: 'refs/heads/',
      target: {
        __typename: 'Commit',
        ...commitFromGit(sha),
        messageHeadline: 'Ship the thing',
        parents: { totalCount: 1, nodes: [{ oid: parent }] },
      },
    });
    const target = read.repository.ref.target as { author: { date: string }; committedDate: string; message: string };
    expect(target.author.date).toBe('2024-05-01T10:00:00+02:00');
    expect(target.committedDate).toBe('2024-05-02T14:30:00Z');
    expect(target.message).toBe('Ship the thing\n\nWith a body\nof two lines.');
  });

  it('compares behind, diverged and identical refs, and slices the commits with first and last', async () => {
    await gh.commitFiles(owner, repo, 'hotfix', { 'fix.txt': 'fix\n' }, 'Hotfix on prod', 'prod');
    for (let i = 1; i <= 7; i++)
      await gh.commitFiles(owner, repo, 'long', { 'n.txt': `${i}\n` }, `step ${i}`, 'develop');
    const cmp = (base: string, head: string, page = 'last: 50') =>
      `${base.replace(/\W/g, '_')}_${head.replace(/\W/g, '_')}_${page.replace(/\W/g, '')}: ref(qualifiedName: "${base}") { compare(headRef: "${head}") { status aheadBy behindBy commits(${page}) { totalCount nodes { oid } } } }`;
    const pairs: [string, string, string?][] = [
      ['develop', 'prod'],
      ['staging', 'hotfix'],
      ['qa', 'refs/heads/qa'],
      ['refs/heads/develop', 'long', 'last: 3'],
      ['develop', 'long', 'first: 2'],
    ];
    const q = `query { repository(owner: "acme", name: "api") { ${pairs.map(([b, h, p]) => cmp(b, h, p)).join('\n')} } }`;
    const read = await octokit.graphql<{ repository: Record<string, { compare: unknown }> }>(q);
    const expected = (base: string, head: string, status: string, pick: (all: string[]) => string[]) => {
      const ahead = range(base, head);
      return {
        compare: {
          status,
          aheadBy: ahead.length,
          behindBy: range(head, base).length,
          commits: { totalCount: ahead.length, nodes: pick(ahead).map((oid) => ({ oid })) },
        },
      };
    };
    const all = (x: string[]) => x;
    const v = Object.values(read.repository);
    expect(v[0]).toEqual(expected('develop', 'prod', 'BEHIND', all));
    expect(v[0]).toMatchObject({ compare: { aheadBy: 0, behindBy: 3, commits: { nodes: [] } } });
    expect(v[1]).toEqual(expected('staging', 'hotfix', 'DIVERGED', all));
    expect(v[1]).toMatchObject({ compare: { aheadBy: 1, behindBy: 1 } });
    expect(v[2]).toEqual(expected('qa', 'qa', 'IDENTICAL', all));
    expect(v[2]).toMatchObject({ compare: { aheadBy: 0, behindBy: 0 } });
    // Oldest first, as GitHub's compare lists them: `last` is the newest, `first` the oldest.
    expect(v[3]).toEqual(expected('develop', 'long', 'AHEAD', (x) => x.slice(-3)));
    expect(v[4]).toEqual(expected('develop', 'long', 'AHEAD', (x) => x.slice(0, 2)));
    expect(range('develop', 'long')).toHaveLength(7);
  });

  it('counts and lists a merge and both lines it joins, parents before children', async () => {
    const one = await gh.commitFiles(owner, repo, 'line-one', { 'one.txt': '1\n' }, 'Line one', 'develop');
    const two = await gh.commitFiles(owner, repo, 'line-two', { 'two.txt': '2\n' }, 'Line two', 'develop');
    const tree = git('rev-parse', `${one}^{tree}`);
    const when = { GIT_AUTHOR_DATE: '2030-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2030-01-01T00:00:00Z' };
    const merge = gitEnv(
      {
        ...when,
        GIT_AUTHOR_NAME: 'M',
        GIT_AUTHOR_EMAIL: 'm@example.com',
        GIT_COMMITTER_NAME: 'M',
        GIT_COMMITTER_EMAIL: 'm@example.com',
      },
      'commit-tree',
      tree,
      '-p',
      one,
      '-p',
      two,
      '-m',
      'Merge line two',
    );
    git('update-ref', 'refs/heads/merged', merge);
    const read = await octokit.graphql<{
      repository: Record<string, unknown>;
    }>(`query { repository(owner: "acme", name: "api") {
      develop: ref(qualifiedName: "develop") { compare(headRef: "merged") { status aheadBy behindBy commits(last: 10) { totalCount nodes { oid parents(first: 2) { totalCount nodes { oid } } } } } }
      two: ref(qualifiedName: "line-two") { compare(headRef: "merged") { status aheadBy behindBy } }
    } }`);
    const ahead = range('develop', 'merged');
    expect(ahead).toHaveLength(3);
    expect(ahead.at(-1)).toBe(merge);
    const parents = (oid: string) => git('rev-list', '--parents', '-n', '1', oid).split(' ').slice(1);
    expect(read.repository.develop).toEqual({
      compare: {
        status: 'AHEAD',
        aheadBy: 3,
        behindBy: 0,
        commits: {
          totalCount: 3,
          nodes: ahead.map((oid) => ({
            oid,
            parents: { totalCount: parents(oid).length, nodes: parents(oid).map((p) => ({ oid: p })) },
          })),
        },
      },
    });
    expect(parents(merge)).toEqual([one, two]);
    expect(read.repository.two).toEqual({
      compare: { status: 'AHEAD', aheadBy: range('line-two', 'merged').length, behindBy: 0 },
    });
    expect(range('line-two', 'merged')).toHaveLength(2);
  });

  it('compares branches whose histories part further back than one read of git covers', async () => {
    // 600 commits on main; `old` at the 10th: more than the fake lists of two branches at once.
    const dir = await gh.createRepo(owner, 'big', { defaultBranch: 'main' });
    const stream: string[] = [];
    for (let i = 1; i <= 600; i++) {
      const who = `Dev <dev@example.com> ${1_700_000_000 + i * 60} +0000`;
      stream.push(
        `commit refs/heads/main\nmark :${i}\nauthor ${who}\ncommitter ${who}\ndata <<END\nchange ${i}\nEND\n`,
      );
      if (i > 1) stream.push(`from :${i - 1}\n`);
      stream.push(`M 100644 inline n.txt\ndata <<END\n${i}\nEND\n\n`);
    }
    // And two branches of 300 commits each from main's head: both heads are near the top of one
    // listing, the commit they part from is not.
    for (const [b, base] of [
      ['fa', 1000],
      ['fb', 2000],
    ] as const) {
      for (let i = 1; i <= 300; i++) {
        const who = `Dev <dev@example.com> ${1_700_100_000 + i * 60} +0000`;
        stream.push(
          `commit refs/heads/${b}\nmark :${base + i}\nauthor ${who}\ncommitter ${who}\ndata <<END\n${b} ${i}\nEND\n`,
        );
        stream.push(`from :${i > 1 ? base + i - 1 : 600}\nM 100644 inline ${b}.txt\ndata <<END\n${i}\nEND\n\n`);
      }
    }
    stream.push('reset refs/heads/old\nfrom :10\n\ndone\n');
    execFileSync('git', ['--git-dir', dir, 'fast-import', '--quiet', '--done'], {
      input: stream.join(''),
      env: GIT_ENV,
    });
    const q = `query { repository(owner: "acme", name: "big") {
      newest: ref(qualifiedName: "old") { compare(headRef: "main") { status aheadBy behindBy commits(last: 50) { totalCount nodes { oid messageHeadline } } } }
      oldest: ref(qualifiedName: "old") { compare(headRef: "main") { commits(first: 3) { totalCount nodes { oid } } } }
      back: ref(qualifiedName: "main") { compare(headRef: "old") { status aheadBy behindBy } }
      fork: ref(qualifiedName: "fa") { compare(headRef: "fb") { status aheadBy behindBy commits(last: 2) { totalCount nodes { oid } } } }
    } }`;
    const read = await octokit.graphql<{ repository: Record<string, { compare: Record<string, unknown> }> }>(q);
    const inBig = (...args: string[]) =>
      execFileSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8', env: GIT_ENV })
        .trim()
        .split('\n');
    const ahead = inBig('rev-list', '--reverse', 'old..main');
    expect(ahead).toHaveLength(590);
    expect(read.repository.newest!.compare).toEqual({
      status: 'AHEAD',
      aheadBy: 590,
      behindBy: 0,
      commits: {
        totalCount: 590,
        nodes: ahead.slice(-50).map((oid, i) => ({ oid, messageHeadline: `change ${551 + i}` })),
      },
    });
    expect(read.repository.oldest!.compare).toEqual({
      commits: { totalCount: 590, nodes: ahead.slice(0, 3).map((oid) => ({ oid })) },
    });
    expect(read.repository.back!.compare).toEqual({ status: 'BEHIND', aheadBy: 0, behindBy: 590 });
    const fb = inBig('rev-list', '--reverse', 'fa..fb');
    expect(fb).toHaveLength(300);
    expect(read.repository.fork!.compare).toEqual({
      status: 'DIVERGED',
      aheadBy: 300,
      behindBy: inBig('rev-list', 'fb..fa').length,
      commits: { totalCount: 300, nodes: fb.slice(-2).map((oid) => ({ oid })) },
    });
  });

  it('answers null for a ref that does not exist and for a comparison with one', async () => {
    const read = await octokit.graphql<{
      repository: Record<string, unknown>;
    }>(`query { repository(owner: "acme", name: "api") {
      missing: ref(qualifiedName: "refs/heads/nope") { name }
      qa: ref(qualifiedName: "qa") { name compare(headRef: "nope") { status } }
    } }`);
    expect(read.repository).toEqual({ missing: null, qa: { name: 'qa', compare: null } });
  });

  it('counts and lists refs under a prefix, tags included, in name order', async () => {
    const tagQuery = `query { repository(owner: "acme", name: "api") {
      tags: refs(refPrefix: "refs/tags/", first: 100) { totalCount nodes { name prefix target { __typename oid ... on Tag { name target { oid } } } } }
      heads: refs(refPrefix: "refs/heads/", last: 2) { totalCount nodes { name target { oid } } }
    } }`;
    type Refs = { repository: Record<string, { totalCount: number; nodes: Record<string, unknown>[] }> };
    const before = await octokit.graphql<Refs>(tagQuery);
    const tagLines = () =>
      git('for-each-ref', '--format=%(refname:lstrip=2) %(objectname) %(*objectname)', 'refs/tags/').split('\n');
    expect(before.repository.tags!.totalCount).toBe(3);
    // A lightweight and an annotated tag more, made in the repository as a push would.
    git('update-ref', 'refs/tags/light', seeded.heads.develop);
    gitEnv(
      { GIT_COMMITTER_NAME: 'Tagger', GIT_COMMITTER_EMAIL: 'tagger@example.com' },
      'tag',
      '-a',
      '-m',
      'Annotated',
      'annotated',
      seeded.heads.qa,
    );
    expect(tagLines()).toHaveLength(5);
    const after = await octokit.graphql<Refs>(tagQuery);
    expect(after.repository.tags!.totalCount).toBe(5);
    expect(after.repository.tags!.nodes).toEqual(
      tagLines().map((line) => {
        const [name, oid, peeled] = line.split(' ');
        return {
          name,
          prefix: 'refs/tags/',
          target: peeled ? { __typename: 'Tag', oid, name, target: { oid: peeled } } : { __typename: 'Commit', oid },
        };
      }),
    );
    // A short name that is no branch is looked for among the tags, as GitHub does.
    const light = await octokit.graphql<{ repository: unknown }>(
      'query { repository(owner: "acme", name: "api") { ref(qualifiedName: "light") { name prefix target { oid } } } }',
    );
    expect(light.repository).toEqual({
      ref: { name: 'light', prefix: 'refs/tags/', target: { oid: git('rev-parse', 'refs/tags/light') } },
    });
    const heads = git('for-each-ref', '--format=%(refname:lstrip=2) %(objectname)', 'refs/heads/').split('\n');
    expect(after.repository.heads).toEqual({
      totalCount: heads.length,
      nodes: heads.slice(-2).map((l) => ({ name: l.split(' ')[0], target: { oid: l.split(' ')[1] } })),
    });
  });

  it("refuses a connection without first or last, with both, or above 100, as GitHub's API does", async () => {
    const refsWith = (args: string) =>
      `query { repository(owner: "acme", name: "api") { refs(refPrefix: "refs/heads/"${args}) { totalCount } } }`;
    const missing = await post(refsWith(''));
    expect(missing).toMatchObject({
      status: 200,
      body: {
        data: null,
        errors: [
          {
            type: 'MISSING_PAGINATION_BOUNDARIES',
            message: 'You must provide a `first` or `last` value to properly paginate the `refs` connection.',
          },
        ],
      },
    });
    const many = await post(
      'query ($n: Int) { repository(owner: "acme", name: "api") { ref(qualifiedName: "qa") { compare(headRef: "develop") { commits(last: $n) { totalCount } } } } }',
      { n: 101 },
    );
    expect(many.body).toMatchObject({
      data: null,
      errors: [
        {
          type: 'EXCESSIVE_PAGINATION',
          message: 'Requesting 101 records on the `commits` connection exceeds the `last` limit of 100 records.',
        },
      ],
    });
    const both = await post(refsWith(', first: 1, last: 1'));
    expect(both.body).toMatchObject({
      data: null,
      errors: [{ message: 'Passing both `first` and `last` to paginate the `refs` connection is not supported.' }],
    });
    // At the limit it answers.
    expect((await post(refsWith(', first: 100'))).body).toEqual({
      data: { repository: { refs: { totalCount: git('for-each-ref', 'refs/heads/').split('\n').length } } },
    });
  });

  it('still refuses by name a field it does not model, and at validation a query the schema refuses', async () => {
    const unmodelled = await post(
      'query { repository(owner: "acme", name: "api") { ref(qualifiedName: "qa") { name branchProtectionRule { id } } } }',
    );
    expect(unmodelled.body.errors?.map((e) => e.message)).toEqual([
      'the GitHub fake does not model Ref.branchProtectionRule',
    ]);
    expect(unmodelled.body.data).toEqual({ repository: { ref: { name: 'qa', branchProtectionRule: null } } });
    const invalid = await post(
      'query { repository(owner: "acme", name: "api") { ref(qualifiedName: "qa") { compare(headRef: "develop") { ahead } } } }',
    );
    expect(invalid.body.data).toBeUndefined();
    expect(invalid.body.errors?.map((e) => e.message).join('\n')).toMatch(/ahead/);
  });
});
