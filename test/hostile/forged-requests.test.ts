/**
 * Forged requests against the real `serve`: Slack requests (commands, buttons, modal
 * submissions, events) signed with the wrong secret, unsigned, replayed after five minutes or
 * altered after signing; GitHub deliveries with a wrong, missing or stale signature; journal
 * calls with a wrong token, another cluster's token or a read-only cluster's token; approve
 * buttons edited to another operation or role. Each is refused (401/403) or, for an edited
 * button, does exactly what the clicking user's own `approve` would — nothing more.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GITHUB_WEBHOOK_PATH } from '../../src/server/github-webhooks.js';
import { type Forgery, SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';
import { type HostileServer, startHostileServer, TOKENS } from './support/hostile-server.js';
import { family, printFamilies } from './support/summary.js';

const SECRET = 'hostile-signing-secret';
const HOOK_SECRET = 'hostile-webhook-secret';
const CHANNEL = 'C0DEPLOY1';

/** An alteration that really alters (a forgery that changed nothing would be a valid request). */
function changed(before: string, after: string): string {
  if (after === before) throw new Error('the alteration left the body as it was');
  return after;
}

describe('forged requests', () => {
  let hs: HostileServer;
  let fake: SlackFake;
  let driver: SlackDriver;
  const slack = family('forged Slack requests');
  const hooks = family('forged GitHub deliveries');
  const tokens = family('forged journal tokens');
  const buttons = family('edited buttons and modals');

  beforeAll(async () => {
    fake = await SlackFake.start();
    hs = await startHostileServer({
      env: {
        SLACK_BOT_TOKEN: fake.token,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: fake.apiUrl,
        GITHUB_WEBHOOK_SECRET: HOOK_SECRET,
      },
      edit: (raw) => {
        raw.roles.devops = { users: ['U_OPS'] };
      },
    });
    driver = new SlackDriver({ url: `${hs.base}/slack/events`, signingSecret: SECRET });
  });
  afterAll(async () => {
    await hs?.close();
    await fake?.close();
    printFamilies();
  });

  const store = () => hs.server.runtime.store;
  const slackCalls = () => fake.calls.length;

  it('refuses every forged Slack request with 401 and leaves no trace', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forgeries: [string, Forgery][] = [
      ['wrong secret', { secret: 'not-the-secret' }],
      ['empty secret', { secret: '' }],
      ['no headers', { omitHeaders: 'both' }],
      ['no signature', { omitHeaders: 'signature' }],
      ['no timestamp', { omitHeaders: 'timestamp' }],
      ['replayed after 5 min 1 s', { timestamp: now - 301 }],
      ['replayed after 10 min', { timestamp: now - 600 }],
      ['replayed after a day', { timestamp: now - 86_400 }],
      ['body altered: other user', { alterBody: (b) => changed(b, b.replace(/U_[A-Z]+/, 'U_OWNED')) }],
      ['body altered: one character', { alterBody: (b) => changed(b, b.replace('U_', 'V_')) }],
      ['body altered: appended', { alterBody: (b) => `${b}&x=1` }],
    ];
    const sends: [string, (f: Forgery) => Promise<{ status: number }>][] = [
      ['slash command', (f) => driver.slashCommand({ text: 'promote web qa', user: 'U_DEMO', channel: CHANNEL }, f)],
      [
        'approve button',
        (f) =>
          driver.blockAction(
            { actionId: 'conveyor_approve', value: 'op_qaqaqaqaqa', user: 'U_LEAD', channel: CHANNEL },
            f,
          ),
      ],
      [
        'reject modal',
        (f) =>
          driver.viewSubmission(
            {
              callbackId: 'conveyor_reject_modal',
              user: 'U_LEAD',
              values: { reason: { reason: { type: 'plain_text_input', value: 'qa' } } },
              privateMetadata: JSON.stringify({ op: 'op_qaqaqaqaqa' }),
            },
            f,
          ),
      ],
      ['app home event', (f) => driver.appHomeOpened({ user: 'U_DEMO' }, f)],
    ];
    const calls = slackCalls();
    for (const [kind, send] of sends) {
      for (const [name, forgery] of forgeries) {
        const res = await send(forgery);
        slack.record(res.status === 401, `${kind}, ${name} → ${res.status}`);
      }
    }
    // give a wrongly accepted request the time to act, then look for any trace
    await new Promise((r) => setTimeout(r, 500));
    slack.record((await store().operations()).length === 0, 'an operation was created');
    slack.record(slackCalls() === calls, 'Slack was called');
    expect(slack.lost, slack.losses.join('\n')).toBe(0);
  });

  it('answers the same request, correctly signed, so the refusals above were the signature', async () => {
    const res = await driver.slashCommand({ text: 'list api', user: 'U_DEMO', channel: CHANNEL });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(fake.callsTo('chat.postMessage').length + fake.responses.length).toBeGreaterThan(0), {
      timeout: 30_000,
    });
  });

  it('refuses GitHub deliveries with a wrong, missing or malformed signature', async () => {
    const routeMounted =
      (await fetch(`${hs.base}${GITHUB_WEBHOOK_PATH}`, { method: 'POST', body: '{}' })).status !== 404;
    expect(routeMounted, 'serve mounts /github/webhooks').toBe(true);
    const body = JSON.stringify({
      ref: 'refs/heads/develop',
      after: 'f'.repeat(40),
      deleted: false,
      repository: { full_name: 'acme/api' },
      pusher: { name: 'mallory' },
    });
    const sign = (secret: string, b: string) => `sha256=${createHmac('sha256', secret).update(b).digest('hex')}`;
    const forged: [string, Record<string, string>, string][] = [
      ['wrong secret', { 'x-hub-signature-256': sign('wrong', body) }, body],
      ['no signature', {}, body],
      ['sha1 only', { 'x-hub-signature': `sha1=${createHmac('sha1', HOOK_SECRET).update(body).digest('hex')}` }, body],
      ['malformed', { 'x-hub-signature-256': 'sha256=zz' }, body],
      ['empty', { 'x-hub-signature-256': '' }, body],
      ['body altered', { 'x-hub-signature-256': sign(HOOK_SECRET, body) }, body.replace('mallory', 'trudy')],
      ['signature of another body', { 'x-hub-signature-256': sign(HOOK_SECRET, '{}') }, body],
    ];
    for (const [name, headers, sent] of forged) {
      const delivery = `forged-${name.replace(/\W/g, '-')}`;
      const res = await fetch(`${hs.base}${GITHUB_WEBHOOK_PATH}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': delivery,
          ...headers,
        },
        body: sent,
      });
      await res.arrayBuffer();
      hooks.record(res.status === 401, `${name} → ${res.status}`);
      // a refused delivery is never recorded: its id is still free
      hooks.record(await store().claimDelivery(delivery), `${name}: the delivery id was recorded`);
    }
    // a genuine delivery, then the same delivery replayed: handled once
    const send = () =>
      fetch(`${hs.base}${GITHUB_WEBHOOK_PATH}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': 'genuine-1',
          'x-hub-signature-256': sign(HOOK_SECRET, body),
        },
        body,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { duplicate?: boolean } }));
    const first = await send();
    const replay = await send();
    hooks.record(first.status === 200 && !first.body.duplicate, `genuine → ${first.status}`);
    hooks.record(
      replay.status === 200 && replay.body.duplicate === true,
      `replayed delivery handled again: ${JSON.stringify(replay.body)}`,
    );
    expect(hooks.lost, hooks.losses.join('\n')).toBe(0);
  });

  it('refuses journal calls with a wrong token, another cluster’s token or a read-only cluster’s token', async () => {
    const day = '2026.11.23';
    const body = (cluster: string) => ({
      version: `${day}-${cluster}.1`,
      cluster,
      file: 'journal.csv',
      size: 3,
      sha256: 'b'.repeat(64),
      mandators: ['tech-head'],
      objectKey: `journals/${cluster}/${day}-${cluster}.1/journal.csv`,
      uploadedAt: new Date().toISOString(),
    });
    const report = (env: string) => ({
      env,
      version: `${day}-dev-modelling.1`,
      ok: true,
      exitCode: 0,
      durationMs: 1,
      outputTail: '',
    });
    const call = async (
      method: string,
      path: string,
      token: string | null,
      payload?: unknown,
      header = 'authorization',
    ) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token !== null) headers[header] = header === 'authorization' ? `Bearer ${token}` : token;
      const res = await fetch(`${hs.base}${path}`, {
        method,
        headers,
        body: payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const cases: [string, () => Promise<number>, number[]][] = [
      ['register without a token', () => call('POST', '/api/journal/versions', null, body('dev-modelling')), [401]],
      [
        'register with a wrong token',
        () => call('POST', '/api/journal/versions', 'tok-guess', body('dev-modelling')),
        [401],
      ],
      [
        'register with a token prefix',
        () => call('POST', '/api/journal/versions', TOKENS['dev-modelling'].slice(0, -1), body('dev-modelling')),
        [401],
      ],
      [
        'register with a token suffix',
        () => call('POST', '/api/journal/versions', `${TOKENS['dev-modelling']}x`, body('dev-modelling')),
        [401],
      ],
      [
        'register for dev with prod’s token',
        () => call('POST', '/api/journal/versions', TOKENS['prod-modelling'], body('dev-modelling')),
        [403],
      ],
      [
        'register for prod with dev’s token',
        () => call('POST', '/api/journal/versions', TOKENS['dev-modelling'], body('prod-modelling')),
        [403],
      ],
      [
        'register by the read-only cluster',
        () => call('POST', '/api/journal/versions', TOKENS['qa-execution'], body('qa-execution')),
        [403],
      ],
      [
        'register with an agent token',
        () => call('POST', '/api/journal/versions', TOKENS.qa, body('dev-modelling')),
        [403],
      ],
      [
        'register with the token in the query',
        () => call('POST', `/api/journal/versions?token=${TOKENS['dev-modelling']}`, null, body('dev-modelling')),
        [401],
      ],
      ['import report without a token', () => call('POST', '/api/journal/imports', null, report('qa')), [401]],
      [
        'import report for dit by the qa agent',
        () => call('POST', '/api/journal/imports', TOKENS.qa, report('dit')),
        [403],
      ],
      [
        'import report for qa by a cluster',
        () => call('POST', '/api/journal/imports', TOKENS['dev-modelling'], report('qa')),
        [403],
      ],
      [
        'export event for dev by prod',
        () =>
          call('POST', '/api/journal/events', TOKENS['prod-modelling'], {
            cluster: 'dev-modelling',
            kind: 'failed',
            file: 'x',
          }),
        [403],
      ],
      ['KV read without a token', () => call('GET', '/v1/kv/journal_version/qa', null), [403]],
      [
        'KV read with a wrong token',
        () => call('GET', '/v1/kv/journal_version/qa', 'nope', undefined, 'x-consul-token'),
        [403],
      ],
      ...(['dev-modelling', 'prod-modelling', 'qa-execution', 'qa'] as const).map(
        (who): [string, () => Promise<number>, number[]] => [
          `KV pointer write by ${who}`,
          () => call('PUT', '/v1/kv/journal_version/dit', TOKENS[who], '2026.11.23-dev-modelling.1', 'x-consul-token'),
          [403],
        ],
      ),
    ];
    for (const [name, send, expected] of cases) {
      const status = await send();
      tokens.record(expected.includes(status), `${name} → ${status}`);
    }
    tokens.record((await hs.server.runtime.journal.list({ limit: 10 })).length === 0, 'a version was registered');
    tokens.record(
      (await hs.server.runtime.journal.imports('dit')).length === 0 &&
        (await hs.server.runtime.journal.imports('qa')).length === 0,
      'an import was recorded',
    );
    tokens.record((await hs.server.runtime.kv.get('journal_version/dit')) === null, 'the dit pointer moved');
    expect(tokens.lost, tokens.losses.join('\n')).toBe(0);
  });

  it('an approve button edited to another operation or role grants nothing the user’s own approve would not', async () => {
    const ask = async (text: string) => {
      const res = await driver.slashCommand({ text, user: 'U_DEMO', channel: CHANNEL });
      expect(res.status).toBe(200);
      let id = '';
      await vi.waitFor(
        async () => {
          const ops = await store().operations({ env: text.split(' ').at(-1) });
          id = ops.find((o) => o.state === 'awaiting-approval')?.id ?? '';
          expect(id).not.toBe('');
        },
        { timeout: 30_000 },
      );
      return id;
    };
    const prodOp = await ask('promote api prod'); // tech-lead + product-owner
    const stagingOp = await ask('promote api staging'); // qa-lead
    const click = async (user: string, value: string, actionId = 'conveyor_approve') => {
      const before = fake.ephemerals.filter((e) => e.user === user).length;
      const res = await driver.blockAction({ actionId, value, user, channel: CHANNEL });
      if (res.status === 200 && actionId.startsWith('conveyor_approve')) {
        await vi.waitFor(() => expect(fake.ephemerals.filter((e) => e.user === user).length).toBeGreaterThan(before), {
          timeout: 30_000,
        });
      }
      return res.status;
    };
    const approvals = async (id: string) => (await store().approvals(id)).map((a) => `${a.userId}:${a.role}`).sort();

    // the role part of the value is not trusted
    await click('U_QA', `${prodOp}|tech-lead`);
    buttons.record((await approvals(prodOp)).length === 0, 'U_QA claimed tech-lead on prod');
    await click('U_PO', `${prodOp}|tech-lead`);
    buttons.record(
      JSON.stringify(await approvals(prodOp)) === JSON.stringify(['U_PO:product-owner']),
      `U_PO claimed tech-lead: ${await approvals(prodOp)}`,
    );
    // another operation: only what the clicker could approve anyway
    await click('U_LEAD', stagingOp);
    buttons.record((await approvals(stagingOp)).length === 0, 'U_LEAD approved staging (qa-lead only)');
    await click('U_DEMO', prodOp);
    buttons.record((await approvals(prodOp)).length === 1, 'the requester approved their own request through a button');
    // actions that do not exist, and values that are not ids
    for (const [actionId, value] of [
      ['conveyor_approve_all', prodOp],
      ['conveyor_delete', prodOp],
      ['conveyor_approve', `${prodOp}|tech-lead|admin`],
      ['conveyor_approve', `${prodOp}' OR '1'='1`],
      ['conveyor_approve', '--dry-run'],
    ] as const) {
      const status = await click('U_OPS', value, actionId).catch(() => 0);
      buttons.record(status === 200 || status === 404, `${actionId} ${value} → ${status}`);
    }
    // a reject modal whose metadata was edited to the prod operation, submitted by someone
    // who holds no role there
    await driver.viewSubmission({
      callbackId: 'conveyor_reject_modal',
      user: 'U_QA',
      values: { reason: { reason: { type: 'plain_text_input', value: 'edited metadata' } } },
      privateMetadata: JSON.stringify({ op: prodOp, channel: CHANNEL }),
    });
    await new Promise((r) => setTimeout(r, 1_000));
    buttons.record(
      (await store().operation(prodOp)).state === 'awaiting-approval',
      'U_QA rejected prod through an edited modal',
    );
    buttons.record(
      JSON.stringify(await approvals(prodOp)) === JSON.stringify(['U_PO:product-owner']),
      'prod approvals changed',
    );
    buttons.record((await approvals(stagingOp)).length === 0, 'staging approvals changed');
    expect(buttons.lost, buttons.losses.join('\n')).toBe(0);
  });
});
