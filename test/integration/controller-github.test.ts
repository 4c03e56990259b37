/**
 * The controller's GitHub side against the GitHub fake: signed push webhooks (real payload
 * shape from @octokit/webhooks-examples) announce the development version once; bad
 * signatures are refused; redeliveries are ignored. `list` in chat answers from a mirror the
 * poller vouches for without fetching it, and a promotion's own writes make the next one fetch.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import examples from '@octokit/webhooks-examples';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirror } from '../../src/adapters/git-mirror.js';
import { createOctokit, GitHubHost } from '../../src/adapters/github.js';
import { type RunningController, startController } from '../../src/controller/controller.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { HttpServer } from '../../src/server/http-server.js';
import { type GitHubFake, startGitHubFake } from '../support/github-fake.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';

const SECRET = 'webhook-secret-for-tests';
const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** The real example push (to a branch) from @octokit/webhooks-examples, re-pointed at our commit. */
// biome-ignore lint/suspicious/noExplicitAny: a webhook payload is free-form JSON
type Json = Record<string, any>;

function pushPayload(sha: string): Json {
  const push = (examples as unknown as { name: string; examples: Json[] }[]).find((e) => e.name === 'push')!;
  const example = structuredClone(push.examples.find((p) => p.ref.startsWith('refs/heads/') && p.head_commit)!);
  example.ref = 'refs/heads/develop';
  example.after = sha;
  example.head_commit.id = sha;
  example.head_commit.message = 'Add the pricing endpoint';
  return example;
}

describe('controller: GitHub webhooks', () => {
  let gh: GitHubFake;
  let t: TestRuntime;
  let http: HttpServer;
  let port: number;
  let controller: RunningController;
  let mirrorDir: string;
  let sha: string;

  const deliver = (body: string, headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${port}/github/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...headers },
      body,
    });
  const announcements = () =>
    t.notifier.sent.filter((s) => s.notice.text.startsWith('New development version of hello'));

  beforeAll(async () => {
    gh = await startGitHubFake();
    await gh.createRepo('Codertocat', 'Hello-World', { defaultBranch: 'develop' });
    await gh.commitFiles('Codertocat', 'Hello-World', 'develop', { 'README.md': '# hello\n' }, 'Initial commit');
    sha = await gh.commitFiles(
      'Codertocat',
      'Hello-World',
      'develop',
      { 'src/pricing.ts': 'export {};\n' },
      'Add the pricing endpoint',
    );
    mirrorDir = mkdtempSync(join(tmpdir(), 'conveyor-gh-mirror-'));
    const octokit = createOctokit({ token: gh.token, baseUrl: gh.url, throttle: false, retries: 0 });
    const mirror = new GitMirror({ url: gh.gitUrl('Codertocat', 'Hello-World'), dir: join(mirrorDir, 'hello.git') });
    const host = new GitHubHost({ octokit, owner: 'Codertocat', repo: 'Hello-World', mirror });
    t = await makeRuntime({
      edit: (c) => {
        c.apps.push({
          name: 'hello',
          repo: 'Codertocat/Hello-World',
          targets: { development: { cluster: 'kind-eu', namespace: 'dev', workloads: ['hello'] } },
        });
      },
      extra: { gitHosts: new Map([['hello', host]]) },
    });
    http = new HttpServer(pino({ level: 'silent' }));
    port = await http.listen(0, '127.0.0.1');
    controller = await startController({
      runtime: t.runtime,
      http,
      secrets: { GITHUB_WEBHOOK_SECRET: SECRET },
      log: pino({ level: 'silent' }),
      kubeConfigs: {},
    });
  });

  afterAll(async () => {
    await controller?.stop();
    await http?.close();
    await t?.close();
    await gh?.close();
    rmSync(mirrorDir, { recursive: true, force: true });
  });

  it('a signed push to develop announces the development version, naming the cluster', async () => {
    const body = JSON.stringify(pushPayload(sha));
    const res = await deliver(body, { 'x-github-delivery': randomUUID(), 'x-hub-signature-256': sign(body) });
    expect(res.status).toBe(200);
    expect(announcements()).toHaveLength(1);
    const { notice } = announcements()[0]!;
    expect(notice.channel).toBe('#deploys-dev');
    expect(notice.text).toContain(sha.slice(0, 7));
    expect(notice.text).toContain('"Add the pricing endpoint"');
    expect(notice.text).toContain('cluster kind-eu');
    // The mirror followed the push.
    expect(await t.runtime.git.get('hello')!.branchHead('develop')).toBe(sha);
  });

  it('refuses a bad signature and ignores a redelivery', async () => {
    const next = await gh.commitFiles(
      'Codertocat',
      'Hello-World',
      'develop',
      { 'src/tax.ts': 'export {};\n' },
      'Tax rules',
    );
    const body = JSON.stringify(pushPayload(next));
    const forged = await deliver(body, {
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': sign(body, 'not-the-secret'),
    });
    expect(forged.status).toBe(401);
    const unsigned = await deliver(body, { 'x-github-delivery': randomUUID() });
    expect(unsigned.status).toBe(401);
    expect(announcements()).toHaveLength(1);

    const delivery = randomUUID();
    const first = await deliver(body, { 'x-github-delivery': delivery, 'x-hub-signature-256': sign(body) });
    expect(first.status).toBe(200);
    expect(announcements()).toHaveLength(2);
    const again = await deliver(body, { 'x-github-delivery': delivery, 'x-hub-signature-256': sign(body) });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    expect(announcements()).toHaveLength(2);
    // The poll that follows finds the same version: still announced once.
    await controller.pollNow();
    expect(announcements()).toHaveLength(2);
  });

  it('list in chat answers from the mirror the poller vouches for; the CLI and a promotion make it fetch', async () => {
    const host = t.runtime.git.get('hello')!;
    let fetches = 0;
    const sync = host.sync;
    host.sync = async () => {
      fetches++;
      await sync();
    };
    const dispatcher = new Dispatcher(t.runtime);
    const chatList = async (text: string) => {
      const reply = await dispatcher.execute({ text, user: 'U_DEMO', source: 'slack', channel: 'C0DEPLOYS' });
      return (reply.data as { rows: { env: string; tag: string; sha: string }[] }).rows;
    };
    try {
      await controller.pollNow(); // upstream and mirror agree: vouched for one poll interval more
      fetches = 0;
      const develop = await host.branchHead('develop');
      expect((await chatList('list hello development'))[0]).toMatchObject({ sha: develop!.slice(0, 8) });
      expect(fetches).toBe(0);

      // Someone pushes: chat shows what the last poll saw until the next poll (or webhook) fetches.
      const pushed = await gh.commitFiles(
        'Codertocat',
        'Hello-World',
        'develop',
        { 'src/vat.ts': 'export {};\n' },
        'VAT rules',
      );
      expect((await chatList('list hello development'))[0]!.sha).toBe(develop!.slice(0, 8));
      await controller.pollNow();
      expect(fetches).toBe(1);
      expect((await chatList('list hello development'))[0]!.sha).toBe(pushed.slice(0, 8));
      expect(fetches).toBe(1);
      // The CLI always fetches.
      await t.run('list hello development');
      expect(fetches).toBe(2);

      // A promotion writes through the API: the next chat list fetches and shows its deploy tag.
      await gh.commitFiles('Codertocat', 'Hello-World', 'qa', { 'QA.md': 'qa\n' }, 'QA starts here', sha);
      await controller.pollNow();
      const promoted = await t.run('promote hello qa');
      expect(promoted.operation?.state, promoted.text).toBe('succeeded');
      const tag = (await t.runtime.store.operation(promoted.operation!.id))!.progress.tag as string;
      expect(tag).toMatch(/^qa\//);
      fetches = 0;
      const qa = (await chatList('list hello qa'))[0]!;
      expect(fetches).toBe(1);
      expect(qa).toMatchObject({ tag, sha: (await host.branchHead('qa'))!.slice(0, 8) });
    } finally {
      host.sync = sync;
    }
  });
});
