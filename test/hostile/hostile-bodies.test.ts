/**
 * Requests that are signed or authenticated but malformed, against the real `serve`: Slack
 * bodies like `payload=null`, JSON `null`, missing or repeated fields; Slack timestamps in the
 * future; GitHub deliveries without headers, oversized, unsigned floods of large bodies,
 * signed bodies of the wrong shape; local-API, journal-API and KV bodies of every wrong kind;
 * an idempotency key reused for another command. Each is refused with a 4xx, the server
 * answers its health check after each one, and a real command sent afterwards is answered.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/ports.js';
import { GITHUB_WEBHOOK_PATH } from '../../src/server/github-webhooks.js';
import { TokenStore } from '../../src/store/token-store.js';
import { SlackDriver } from '../support/slack-driver.js';
import { SlackFake } from '../support/slack-fake.js';
import { type HostileServer, startHostileServer, TOKENS } from './support/hostile-server.js';
import { answers, family, printFamilies, recordAlive } from './support/summary.js';

const SECRET = 'hostile-bodies-signing-secret';
const HOOK_SECRET = 'hostile-bodies-webhook-secret';

const form = (fields: [string, string][]) =>
  fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
const command = (over: Record<string, string | null> = {}): [string, string][] => {
  const base: Record<string, string | null> = {
    token: 'x',
    team_id: 'T0000001',
    channel_id: 'C0BODY001',
    channel_name: 'deploys',
    user_id: 'U_DEMO',
    command: '/conveyor',
    text: 'help',
    response_url: 'https://hooks.slack.invalid/commands/1',
    trigger_id: `tr.body.${Math.random()}`,
    ...over,
  };
  return Object.entries(base).filter((e): e is [string, string] => e[1] !== null);
};
const action = {
  type: 'block_actions',
  user: { id: 'U_LEAD' },
  team: { id: 'T0000001' },
  trigger_id: 'tr.a',
  actions: [{ action_id: 'conveyor_approve', value: 'op_aaaaaaaaaa' }],
};

describe('malformed but signed requests', () => {
  let hs: HostileServer;
  let fake: SlackFake;
  let driver: SlackDriver;
  const slack = family('signed Slack bodies of the wrong shape');
  const future = family('Slack timestamps in the future');
  const hooks = family('GitHub deliveries: headers first, bounded bodies');
  const apis = family('local API, journal API and KV bodies');
  const keys = family('idempotency keys reused for another command');

  beforeAll(async () => {
    fake = await SlackFake.start();
    hs = await startHostileServer({
      env: {
        SLACK_BOT_TOKEN: fake.token,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: fake.apiUrl,
        GITHUB_WEBHOOK_SECRET: HOOK_SECRET,
      },
    });
    driver = new SlackDriver({ url: `${hs.base}/slack/events`, signingSecret: SECRET });
  });
  afterAll(async () => {
    await hs?.close();
    await fake?.close();
    printFamilies();
  });

  it('refuses every signed Slack body of the wrong shape with a 4xx and keeps serving', async () => {
    const FORM = 'application/x-www-form-urlencoded';
    const JSON_TYPE = 'application/json';
    const cases: [string, string, string][] = [
      ['payload=null', 'payload=null', FORM],
      ['payload empty', 'payload=', FORM],
      ['payload not JSON', 'payload=%7Bnope', FORM],
      ['payload=[]', 'payload=%5B%5D', FORM],
      ['payload=1', 'payload=1', FORM],
      ['payload a string', `payload=${encodeURIComponent('"x"')}`, FORM],
      ['payload {}', `payload=${encodeURIComponent('{}')}`, FORM],
      ['block_actions without user', form([['payload', JSON.stringify({ ...action, user: undefined })]]), FORM],
      ['block_actions with user null', form([['payload', JSON.stringify({ ...action, user: null })]]), FORM],
      ['block_actions without actions', form([['payload', JSON.stringify({ ...action, actions: undefined })]]), FORM],
      ['block_actions with no action', form([['payload', JSON.stringify({ ...action, actions: [] })]]), FORM],
      ['block_actions with an empty action', form([['payload', JSON.stringify({ ...action, actions: [{}] })]]), FORM],
      [
        'block_actions with a numeric value',
        form([['payload', JSON.stringify({ ...action, actions: [{ action_id: 'conveyor_approve', value: 7 }] })]]),
        FORM,
      ],
      [
        'view_submission without view',
        form([['payload', JSON.stringify({ type: 'view_submission', user: { id: 'U_LEAD' } })]]),
        FORM,
      ],
      [
        'view_submission with state null',
        form([
          [
            'payload',
            JSON.stringify({
              type: 'view_submission',
              user: { id: 'U_LEAD' },
              view: { id: 'V1', callback_id: 'conveyor_reject_modal', private_metadata: '', state: null },
            }),
          ],
        ]),
        FORM,
      ],
      [
        'an unknown interaction type',
        form([['payload', JSON.stringify({ type: 'shortcut', user: { id: 'U_LEAD' } })]]),
        FORM,
      ],
      ['payload beside command fields', `payload=null&${form(command())}`, FORM],
      ['command without user_id', form(command({ user_id: null })), FORM],
      ['command without text', form(command({ text: null })), FORM],
      ['command without response_url', form(command({ response_url: null })), FORM],
      ['command without command', form(command({ command: null })), FORM],
      ['command with a bad user id', form(command({ user_id: 'U DEMO; rm' })), FORM],
      ['command with user_id twice', `${form(command())}&user_id=U_LEAD`, FORM],
      ['command with text twice', `${form(command())}&text=promote%20api%20prod`, FORM],
      ['command with payload twice', 'payload=%7B%7D&payload=%7B%7D', FORM],
      ['an empty form', '', FORM],
      ['JSON null', 'null', JSON_TYPE],
      ['JSON []', '[]', JSON_TYPE],
      ['JSON 1', '1', JSON_TYPE],
      ['JSON "x"', '"x"', JSON_TYPE],
      ['JSON {}', '{}', JSON_TYPE],
      ['JSON not JSON', '{"type":', JSON_TYPE],
      ['event_callback without event', '{"type":"event_callback"}', JSON_TYPE],
      ['event_callback with event null', '{"type":"event_callback","event":null}', JSON_TYPE],
      ['url_verification without challenge', '{"type":"url_verification"}', JSON_TYPE],
      ['a text/plain body', 'help', 'text/plain'],
      ['a body over 512 KiB', form(command({ text: 'x'.repeat(600 * 1024) })), FORM],
    ];
    for (const [name, body, type] of cases) {
      const res = await driver.send(body, type);
      await recordAlive(
        slack,
        hs.base,
        res.status >= 400 && res.status < 500,
        `${name} → ${res.status} ${res.body.slice(0, 120)}`,
      );
    }
    // Nothing was lost: a real command sent now is answered.
    const responseUrl = fake.responseUrl('after-bodies');
    const ok = await driver.slashCommand({ text: 'help', user: 'U_DEMO', channel: 'C0BODY001', responseUrl });
    slack.record(ok.status === 200, `a valid command after the barrage → ${ok.status}`);
    await vi.waitFor(() => expect(fake.responses.some((r) => r.id === 'after-bodies')).toBe(true), { timeout: 30_000 });
    expect(slack.crashed, slack.losses.join('\n')).toBe(0);
    expect(slack.lost, slack.losses.join('\n')).toBe(0);
  });

  it('refuses Slack requests timestamped in the future beyond a minute of skew, like stale ones', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const ahead of [61, 120, 300, 3_600, 86_400, 10 ** 9]) {
      const res = await driver.slashCommand(
        { text: 'promote api qa', user: 'U_DEMO', channel: 'C0FUTURE1' },
        { timestamp: now + ahead },
      );
      await recordAlive(future, hs.base, res.status === 401, `${ahead} s ahead → ${res.status}`);
    }
    const skewed = await driver.slashCommand(
      { text: 'help', user: 'U_DEMO', channel: 'C0FUTURE1' },
      { timestamp: now + 20 },
    );
    future.record(skewed.status === 200, `20 s ahead (clock skew) → ${skewed.status}`);
    expect(await hs.server.runtime.store.operations({ app: 'api', env: 'qa' })).toHaveLength(0);
    expect(future.crashed + future.lost, future.losses.join('\n')).toBe(0);
  });

  it('checks GitHub headers before the body, bounds the body and the number of large ones at once', async () => {
    const url = `${hs.base}${GITHUB_WEBHOOK_PATH}`;
    const sign = (body: string) => `sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`;
    const post = async (body: string | Uint8Array, headers: Record<string, string>) => {
      const payload: BodyInit = typeof body === 'string' ? body : new Blob([body as Uint8Array<ArrayBuffer>]);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload,
      }).catch(() => null);
      await res?.arrayBuffer().catch(() => undefined);
      return res?.status ?? 0;
    };
    const good = { 'x-github-event': 'push', 'x-github-delivery': 'd-hostile-1' };
    const cases: [string, () => Promise<number>, number[]][] = [
      ['no signature', () => post('{}', good), [401]],
      ['a malformed signature', () => post('{}', { ...good, 'x-hub-signature-256': 'sha1=abc' }), [401]],
      ['no event', () => post('{}', { 'x-github-delivery': 'd1', 'x-hub-signature-256': sign('{}') }), [400]],
      [
        'an event with a path',
        () => post('{}', { ...good, 'x-github-event': '../push', 'x-hub-signature-256': sign('{}') }),
        [400],
      ],
      ['a wrong signature', () => post('{"a":1}', { ...good, 'x-hub-signature-256': sign('{"a":2}') }), [401]],
      [
        'signed null',
        () => post('null', { ...good, 'x-github-delivery': 'd-null', 'x-hub-signature-256': sign('null') }),
        [400],
      ],
      [
        'signed []',
        () => post('[]', { ...good, 'x-github-delivery': 'd-arr', 'x-hub-signature-256': sign('[]') }),
        [400],
      ],
      [
        'signed not JSON',
        () => post('{', { ...good, 'x-github-delivery': 'd-nojson', 'x-hub-signature-256': sign('{') }),
        [400],
      ],
      [
        'a signed push without after',
        () =>
          post('{"ref":"refs/heads/develop","repository":{"full_name":"acme/api"}}', {
            ...good,
            'x-github-delivery': 'd-shape',
            'x-hub-signature-256': sign('{"ref":"refs/heads/develop","repository":{"full_name":"acme/api"}}'),
          }),
        [400],
      ],
      [
        'a declared 6 MB body',
        () =>
          post(new Uint8Array(6 * 1024 * 1024), {
            ...good,
            'x-github-delivery': 'd-big',
            'x-hub-signature-256': sign('x'),
          }),
        [413],
      ],
    ];
    for (const [name, send, expected] of cases) {
      const status = await send();
      await recordAlive(hooks, hs.base, expected.includes(status), `${name} → ${status}`);
    }
    // Eight unsigned 24 MB bodies at once: refused on their headers, never buffered.
    const rssBefore = process.memoryUsage().rss;
    const flood = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(new Uint8Array(24 * 1024 * 1024), { ...good, 'x-github-delivery': `d-flood-${i}` }),
      ),
    );
    for (const status of flood) await recordAlive(hooks, hs.base, status === 401, `unsigned 24 MB body → ${status}`);
    // Eight signed-looking (wrong signature) 4 MB bodies at once: at most two are read, the rest wait for a retry.
    const big = new Uint8Array(4 * 1024 * 1024);
    const signedFlood = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(big, { ...good, 'x-github-delivery': `d-sflood-${i}`, 'x-hub-signature-256': sign('not this body') }),
      ),
    );
    for (const status of signedFlood)
      await recordAlive(
        hooks,
        hs.base,
        status === 401 || status === 503,
        `4 MB body with a wrong signature → ${status}`,
      );
    console.log(
      `[hostile] GitHub floods: RSS of the test process (serve included) grew ${Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20)} MiB; statuses of the signed flood: ${signedFlood.join(',')}`,
    );
    expect(hooks.crashed + hooks.lost, hooks.losses.join('\n')).toBe(0);
  });

  it('refuses local-API, journal-API and KV bodies of every wrong kind with a 4xx', async () => {
    const local = JSON.parse(readFileSync(await serveInfo(hs), 'utf8')) as { token: string };
    const call = async (method: string, path: string, token: string | null, body: string, header = 'authorization') => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers[header] = header === 'authorization' ? `Bearer ${token}` : token;
      const res = await fetch(`${hs.base}${path}`, { method, headers, body }).catch(() => null);
      await res?.arrayBuffer().catch(() => undefined);
      return res?.status ?? 0;
    };
    const junk = [
      'null',
      '[]',
      '1',
      '"x"',
      'true',
      '{}',
      '{',
      '{"text":null}',
      '{"text":5,"user":"U_DEMO"}',
      '{"text":"list","user":["U_DEMO"]}',
      '{"text":"list","user":"U DEMO"}',
      `{"text":"${'x'.repeat(5000)}","user":"U_DEMO"}`,
      '{"__proto__":{"admin":true}}',
    ];
    const surfaces: [string, string, string, string | null, string?][] = [
      // Outside the sandbox /api/run takes a personal token (the local serve token only names demo users).
      ['local API', 'POST', '/api/run', await personalToken(hs, 'U_DEMO')],
      ['register', 'POST', '/api/journal/versions', TOKENS['dev-modelling']],
      ['import report', 'POST', '/api/journal/imports', TOKENS.qa],
      ['export event', 'POST', '/api/journal/events', TOKENS['dev-modelling']],
    ];
    for (const [name, method, path, token] of surfaces) {
      for (const body of junk) {
        const status = await call(method, path, token, body);
        await recordAlive(apis, hs.base, status >= 400 && status < 500, `${name} ${body.slice(0, 40)} → ${status}`);
      }
      const huge = await call(method, path, token, `{"text":"${'x'.repeat(2 * 1024 * 1024)}"}`);
      await recordAlive(apis, hs.base, huge === 413, `${name} 2 MB → ${huge}`);
    }
    for (const value of ['', 'not a version', '$(id)', '2026.11.23-dev-modelling.1\nX: y', 'x'.repeat(5000)]) {
      const status = await call('PUT', '/v1/kv/journal_version/dit', local.token, value, 'x-consul-token');
      await recordAlive(
        apis,
        hs.base,
        (value === '' && status === 200) || (status >= 400 && status < 500),
        `KV value ${JSON.stringify(value.slice(0, 30))} → ${status}`,
      );
    }
    apis.record((await hs.server.runtime.journal.list({ limit: 10 })).length === 0, 'a version was registered');
    expect(await answers(hs.base)).toBe(true);
    expect(apis.crashed + apis.lost, apis.losses.join('\n')).toBe(0);
  });

  it('idempotency key reused with a different command is refused (409), never answered with the first reply', async () => {
    const run = async (text: string, key: string, user = 'U_DEMO') => {
      const res = await fetch(`${hs.base}/api/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await personalToken(hs, user)}` },
        body: JSON.stringify({ text, user, idempotencyKey: key }),
      });
      return { status: res.status, reply: (await res.json()) as { title: string; operation?: { id: string } } };
    };
    const first = await run('lock web qa regression test', 'reuse-1');
    keys.record(first.status === 200, `first → ${first.status}`);
    const same = await run('lock web qa regression test', 'reuse-1');
    keys.record(
      same.status === 200 && same.reply.title === first.reply.title,
      `the same command again → ${same.status} ${same.reply.title}`,
    );
    for (const [text, user] of [
      ['unlock web qa', 'U_DEMO'],
      ['lock web staging other', 'U_DEMO'],
      ['lock web qa regression test', 'U_LEAD'],
      ['list', 'U_DEMO'],
    ] as const) {
      const other = await run(text, 'reuse-1', user);
      await recordAlive(
        keys,
        hs.base,
        other.status === 409 && /different command/.test(other.reply.title) && other.reply.title !== first.reply.title,
        `"${text}" as ${user} under the same key → ${other.status} ${other.reply.title}`,
      );
    }
    const locks = await hs.server.runtime.store.allLocks();
    keys.record(
      locks.some((l) => l.app === 'web' && l.env === 'qa') &&
        !locks.some((l) => l.app === 'web' && l.env === 'staging'),
      'the reused key changed the locks',
    );
    expect(keys.crashed + keys.lost, keys.losses.join('\n')).toBe(0);
  });
});

/** A personal API token of `user` on the hostile server (outside the sandbox /api/run acts as a token's owner). */
async function personalToken(hs: HostileServer, user: string): Promise<string> {
  return (await new TokenStore(hs.server.runtime.state.db, systemClock).create(user, 'hostile')).token;
}

/** serve.json of the hostile server (written by startServer in its sandbox's run folder). */
async function serveInfo(hs: HostileServer): Promise<string> {
  const { readdirSync } = await import('node:fs');
  const root = join(hs.repo('api'), '..', '..', '..', '..');
  const candidates = [join(root, '.conveyor', 'serve.json'), join(hs.repo('api'), '..', '..', 'serve.json')];
  for (const c of candidates) {
    try {
      readFileSync(c);
      return c;
    } catch {
      /* next */
    }
  }
  throw new Error(`serve.json not found near ${root}: ${readdirSync(root).join(', ')}`);
}
