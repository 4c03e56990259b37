/**
 * Who is the caller of `POST /api/run` and `conveyor run`, outside the sandbox: forged, altered,
 * revoked and misplaced personal tokens, the local serve token naming someone, a real token
 * naming someone else, and `--as`. Each is refused (401/403, or exit 2 for `--as`), the server
 * still answers, and nothing ran: no lock, no operation, no command logged for it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { systemClock } from '../../src/core/ports.js';
import { hashToken, TOKEN_SHAPE, TokenStore } from '../../src/store/token-store.js';
import { type HostileServer, startHostileServer } from './support/hostile-server.js';
import { answers, family, printFamilies, recordAlive } from './support/summary.js';

const COMMAND = 'lock web qa owned';

describe('personal tokens under attack', () => {
  let hs: HostileServer;
  let root: string;
  let configFile: string;
  let valid = '';
  let revoked = '';
  const fam = family('forged and misplaced personal tokens');

  beforeAll(async () => {
    hs = await startHostileServer();
    root = join(hs.repo('api'), '..', '..', '..', '..');
    configFile = join(hs.repo('api'), '..', '..', 'hostile.yaml');
    const tokens = new TokenStore(hs.server.runtime.state.db, systemClock);
    valid = (await tokens.create('U_DEMO', 'hostile')).token;
    revoked = (await tokens.create('U_LEAD', 'revoked')).token;
    await tokens.revoke(TOKEN_SHAPE.exec(revoked)![1]!, 'U_LEAD');
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
    printFamilies();
  });

  const nothingRan = async () => {
    const locks = (await hs.server.runtime.store.allLocks()).filter((l) => l.manual);
    const logged = await hs.server.runtime.state.db.query('SELECT 1 FROM command_log WHERE text = $1', [COMMAND]);
    return locks.length === 0 && logged.length === 0 && (await hs.server.runtime.store.operations()).length === 0;
  };

  it('refuses every forged, altered, revoked or misplaced credential on /api/run with 401 or 403', async () => {
    const serveToken = (JSON.parse(readFileSync(join(root, '.conveyor', 'serve.json'), 'utf8')) as { token: string })
      .token;
    const [, id, secret] = TOKEN_SHAPE.exec(valid)!;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const cases: [string, Record<string, string>, Record<string, unknown>, string?][] = [
      ['no Authorization', {}, { text: COMMAND, user: 'U_DEMO' }],
      ['empty Bearer', { authorization: 'Bearer ' }, { text: COMMAND, user: 'U_DEMO' }],
      [
        'Basic credentials',
        { authorization: `Basic ${Buffer.from(`U_DEMO:${valid}`).toString('base64')}` },
        { text: COMMAND },
      ],
      ['the serve token naming a lead', { authorization: `Bearer ${serveToken}` }, { text: COMMAND, user: 'U_LEAD' }],
      ['the serve token naming nobody', { authorization: `Bearer ${serveToken}` }, { text: COMMAND }],
      ['a revoked token', { authorization: `Bearer ${revoked}` }, { text: COMMAND }],
      ['a revoked token naming its owner', { authorization: `Bearer ${revoked}` }, { text: COMMAND, user: 'U_LEAD' }],
      ...[0, 1, 20, 41, 42].map((i): [string, Record<string, string>, Record<string, unknown>] => [
        `secret altered at ${i}`,
        { authorization: `Bearer cvy_${id}_${flip(secret!, i)}` },
        { text: COMMAND },
      ]),
      [
        'another id, the right secret',
        { authorization: `Bearer cvy_${flip(id!.replace(/^./, 'a'), 0)}_${secret}` },
        { text: COMMAND },
      ],
      ['the id upper-cased', { authorization: `Bearer cvy_${id!.toUpperCase()}_${secret}` }, { text: COMMAND }],
      ['one character short', { authorization: `Bearer ${valid.slice(0, -1)}` }, { text: COMMAND }],
      ['one character more', { authorization: `Bearer ${valid}A` }, { text: COMMAND }],
      ['the prefix only', { authorization: 'Bearer cvy_' }, { text: COMMAND }],
      ['the stored hash as the token', { authorization: `Bearer ${hashToken(valid)}` }, { text: COMMAND }],
      ['the stored hash after the id', { authorization: `Bearer cvy_${id}_${hashToken(valid)}` }, { text: COMMAND }],
      ['two Bearer values', { authorization: `Bearer ${valid} Bearer ${valid}` }, { text: COMMAND }],
      ['the token in the body', {}, { text: COMMAND, token: valid }],
      ['the token as the user', {}, { text: COMMAND, user: valid }],
      ['the token in the query', {}, { text: COMMAND }, `?token=${encodeURIComponent(valid)}`],
      ['the token in a cookie', { cookie: `token=${valid}` }, { text: COMMAND }],
      ['a valid token naming a lead', { authorization: `Bearer ${valid}` }, { text: COMMAND, user: 'U_LEAD' }],
      [
        'a valid token naming its owner in lower case',
        { authorization: `Bearer ${valid}` },
        { text: COMMAND, user: 'u_demo' },
      ],
      ...Array.from({ length: 40 }, (_, i): [string, Record<string, string>, Record<string, unknown>] => [
        `random token ${i}`,
        { authorization: `Bearer cvy_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}` },
        { text: COMMAND },
      ]),
    ];
    for (const [name, headers, body, query] of cases) {
      const res = await fetch(`${hs.base}/api/run${query ?? ''}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }).catch(() => null);
      const text = res ? await res.text() : '';
      const oneLine = (() => {
        try {
          const error = (JSON.parse(text) as { error?: unknown }).error;
          return typeof error === 'string' && !error.includes('\n') && !error.includes(valid);
        } catch {
          return false;
        }
      })();
      const refused = (res?.status === 401 || res?.status === 403) && oneLine && (await nothingRan());
      await recordAlive(fam, hs.base, refused, `${name} → ${res?.status} ${text.slice(0, 120)}`);
    }
    expect(await answers(hs.base)).toBe(true);
    expect(fam.crashed + fam.lost, fam.losses.join('\n')).toBe(0);
  }, 120_000);

  it('refuses --as outside the sandbox (exit 2), with or without a token beside it', async () => {
    let err = '';
    const io = { out: () => {}, err: (s: string) => (err += `${s}\n`) };
    const runs: [string, string[], NodeJS.ProcessEnv][] = [
      ['--as a lead', ['run', COMMAND, '--as', 'U_LEAD', '--config', configFile], {}],
      ['--as=a lead', ['run', COMMAND, '--as=U_LEAD', '--config', configFile], {}],
      ['--as an empty user', ['run', COMMAND, '--as', '', '--config', configFile], {}],
      ['--as beside a token', ['run', COMMAND, '--as', 'U_LEAD', '--config', configFile], { CONVEYOR_TOKEN: valid }],
    ];
    for (const [name, args, env] of runs) {
      const saved = process.env.CONVEYOR_TOKEN;
      if (env.CONVEYOR_TOKEN) process.env.CONVEYOR_TOKEN = env.CONVEYOR_TOKEN;
      err = '';
      const code = await main(args, io, root).finally(() => {
        if (saved === undefined) delete process.env.CONVEYOR_TOKEN;
        else process.env.CONVEYOR_TOKEN = saved;
      });
      await recordAlive(
        fam,
        hs.base,
        code === 2 && /^error: /.test(err) && !err.includes(valid) && (await nothingRan()),
        `${name} → exit ${code}: ${err.split('\n')[0]}`,
      );
    }
    expect(fam.crashed + fam.lost, fam.losses.join('\n')).toBe(0);
  });

  it('the valid token, naming nobody, is the owner: the surface works for the right caller', async () => {
    const res = await fetch(`${hs.base}/api/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${valid}` },
      body: JSON.stringify({ text: COMMAND }),
    });
    expect(res.status).toBe(200);
    const [lock] = (await hs.server.runtime.store.allLocks()).filter((l) => l.manual);
    expect(lock).toMatchObject({ app: 'web', env: 'qa', holder: 'U_DEMO' });
  });
});
