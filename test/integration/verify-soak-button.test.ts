/**
 * A failure inside a soak window, through serve and the Slack fake: the soak watcher (the
 * controller's, on serve's runtime, evaluating an http check against a local service the test
 * breaks) posts in qa's channel with a "Roll back" button, and marks the version bad: promoting
 * it on to staging is refused with the reason (also after serve restarts on the same state),
 * and `diff` does not advise it. The button, clicked through signed Slack requests: someone who
 * may not ask for changes in qa is refused privately in one line; a double click rolls back
 * once; a later click by someone else finds nothing left to do.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import type { AppTarget } from '../../src/controller/live-reconciler.js';
import { beginSoak, SoakWatcher } from '../../src/controller/soak-watch.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { renderText } from '../../src/core/render-text.js';
import type { RunningServer } from '../../src/server/serve.js';
import type { SlackDriver } from '../support/slack-driver.js';
import { type E2eWorkspace, git, makeE2eWorkspace, startSlackServe } from '../support/slack-e2e-setup.js';
import { SlackFake } from '../support/slack-fake.js';

const SECRET = 'soak-signing-secret';

describe('a soak failure: a gated one-click rollback, and the version marked bad', () => {
  let ws: E2eWorkspace;
  let fake: SlackFake;
  let server: RunningServer;
  let driver: SlackDriver;
  let service: Server;
  let healthy = true;
  let qaBefore = '';
  let button: { value: string; channel: string; ts: string } = { value: '', channel: '', ts: '' };

  const run = async (text: string, user: string) => {
    const reply = await new Dispatcher(server.runtime).execute({ text, user, source: 'cli' });
    return { ...reply, text: renderText(reply) };
  };
  const rollbacks = () => server.runtime.store.operations({ app: 'api', env: 'qa', kinds: ['rollback'] });

  beforeAll(async () => {
    service = createServer((_req, res) => res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'orders down'));
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    ws = await makeE2eWorkspace();
    const raw = parse(readFileSync(ws.configFile, 'utf8'));
    raw.state = { url: `pglite:${join(ws.root, 'state')}` }; // kept across the restart below
    const qa = raw.environments.find((e: { name: string }) => e.name === 'qa');
    qa.verify = {
      checks: [{ kind: 'http', name: 'smoke', url: `${base}/{app}/health`, interval: '50ms' }],
      soak: { for: '1h', interval: '100ms' },
    };
    qa.gate = { requesters: ['developer', 'qa-lead'] };
    writeFileSync(ws.configFile, stringify(raw));
    qaBefore = git(ws.repo('api'), 'rev-parse', 'qa^{tree}');
    fake = await SlackFake.start();
    fake.addChannel('C0DEPLOYQA', 'deploys-qa');
    ({ server, driver } = await startSlackServe(ws, fake, SECRET));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await fake?.close();
    service?.closeAllConnections();
    await new Promise<void>((r) => service?.close(() => r()));
    ws?.remove();
  });

  it('posts the failure in qa with a Roll back button, and marks the version bad', async () => {
    const promoted = await run('promote api qa', 'U_DEMO');
    expect(promoted.operation?.state, promoted.text).toBe('succeeded');
    const op = await server.runtime.store.operation(promoted.operation!.id);
    expect(await beginSoak(server.runtime, op)).toMatch(/^api in qa is under watch until /);
    const target = { app: 'api', env: 'qa', cluster: 'c', namespace: 'qa', workloads: ['api'], manifests: 'k8s' };
    const watcher = new SoakWatcher(server.runtime, () => target as unknown as AppTarget, 50);
    healthy = false;
    watcher.start();
    const posted = await vi.waitFor(
      () => {
        const m = fake.messagesIn().find((x) => x.text.includes('inside the soak window'));
        if (!m) throw new Error('not posted yet');
        return m;
      },
      { timeout: 20_000 },
    );
    watcher.stop();
    expect(posted.channel).toBe('C0DEPLOYQA');
    expect(posted.text).toContain(`api in qa: check smoke (http) failed: `);
    expect(posted.text).toContain('status 503, expected 200');
    expect(posted.text).toContain('is marked bad: it does not move on to staging, prod without --force');
    const [action] = (posted.blocks as { type: string; elements?: { action_id: string; value: string }[] }[])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? []);
    expect(action?.action_id).toBe('conveyor_soak_rollback');
    expect(action?.value).toMatch(/^rollback api qa --to \S+$/);
    button = { value: action!.value, channel: posted.channel, ts: posted.ts };
    const marks = await server.runtime.store.auditLog({ operationId: op.id, action: 'version.marked-bad' });
    expect(marks).toHaveLength(1);
    // Visible in the environment's history: the version's status says so.
    const history = await run('history api qa', 'U_DEMO');
    const tag = op.progress.tag!;
    expect(history.text).toMatch(new RegExp(`${tag.replace(/\./g, '\\.')}.*current, failed verification`));
  }, 60_000);

  it('promoting that version on to staging is refused with the reason, and diff does not advise it', async () => {
    const refused = await run('promote api staging', 'U_QA');
    expect(refused.status).toBe('refused');
    expect(refused.title).toMatch(
      /failed verification in qa \(check smoke \(http\) failed: .*status 503, expected 200 \(soak window\)\), so it does not move on to staging/,
    );
    const outsider = await run('promote api staging', 'U_DEMO');
    expect(outsider.title).toContain('only someone holding qa-lead may ship it anyway, with --force');
    const diff = await run('diff qa staging api', 'U_QA');
    expect(diff.text).not.toMatch(/^\s*promote api staging\s*$/m);
    expect(diff.text).toContain('failed verification in qa');
    // The way out is --force, by someone holding staging's role: it gets past the mark (and
    // meets the next rule: U_QA is staging's only qa-lead, so nobody else could approve).
    const forced = await run('promote api staging --force --dry-run', 'U_QA');
    expect(forced.title).not.toContain('failed verification');
    expect(forced.title).toContain('nobody but you can give one');
  }, 60_000);

  it('after serve restarts on the same state, the version is still refused', async () => {
    await server.stop();
    ({ server, driver } = await startSlackServe(ws, fake, SECRET));
    const refused = await run('promote api staging', 'U_QA');
    expect(refused.status).toBe('refused');
    expect(refused.title).toContain('failed verification in qa');
  }, 60_000);

  it('the button: refused privately for someone who may not ask; a double click rolls back once', async () => {
    const click = (user: string, id: string) =>
      driver.blockAction({
        actionId: 'conveyor_soak_rollback',
        value: button.value,
        user,
        channel: button.channel,
        messageTs: button.ts,
        responseUrl: fake.responseUrl(id),
      });
    const reply = (id: string) =>
      vi.waitFor(
        () => {
          const r = fake.responses.find((x) => x.id === id);
          if (!r) throw new Error('no answer yet');
          return JSON.stringify(r.body);
        },
        { timeout: 20_000 },
      );
    expect((await click('U_OUT', 'out1')).status).toBe(200);
    expect(await reply('out1')).toContain('only developer or qa-lead may ask for changes in qa');
    expect(await rollbacks()).toHaveLength(0);

    // A tampered button is refused too, without running anything.
    const tampered = await driver.blockAction({
      actionId: 'conveyor_soak_rollback',
      value: 'rollback api qa --to x; promote api prod',
      user: 'U_DEMO',
      channel: button.channel,
      messageTs: button.ts,
    });
    expect(tampered.status).toBe(200);
    await vi.waitFor(
      () => expect(JSON.stringify(fake.ephemerals.filter((e) => e.user === 'U_DEMO'))).toContain('invalid value'),
      { timeout: 20_000 },
    );
    expect(await rollbacks()).toHaveLength(0);

    const [a, b] = await Promise.all([click('U_DEMO', 'demo1'), click('U_DEMO', 'demo2')]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const done = await vi.waitFor(
      async () => {
        const [op] = await rollbacks();
        if (op?.state !== 'succeeded') throw new Error(`rollback is ${op?.state}`);
        return op;
      },
      { timeout: 30_000 },
    );
    expect(done.requester).toBe('U_DEMO');
    expect(git(ws.repo('api'), 'rev-parse', 'qa^{tree}')).toBe(qaBefore);
    // Someone else clicks later: nothing left to do, still one rollback.
    await click('U_QA', 'qa1');
    expect(await reply('qa1')).toMatch(/nothing to (do|roll back)|already runs/);
    expect(await rollbacks()).toHaveLength(1);
  }, 90_000);
});
