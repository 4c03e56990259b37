/**
 * The authorisation matrix, generated from the configuration: every state-changing command ×
 * every gated environment × every kind of user (the requester, an approver of each role, an
 * outsider), run against the real runtime; the outcome must be exactly what the configured
 * policy says — never an unauthorised success, never a refusal of an allowed user. Every gate
 * needs two roles, so one approval never ships anything: the matrix changes no branch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config, EnvironmentConfig } from '../../src/config/schema.js';
import { git, refsOf } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import { family, printFamilies } from './support/summary.js';

const REQUESTER = 'U_DEMO';
const OUTSIDER = 'U_OUTSIDER';

/** The policy under test: three gated stages, each with a different shape of rule. */
function editPolicy(raw: Record<string, any>): void {
  const env = (name: string) => raw.environments.find((e: { name: string }) => e.name === name);
  env('qa').gate = { roles: { 'qa-lead': 1, devops: 1 }, requesters: ['developer', 'qa-lead'] };
  env('staging').gate = { roles: { 'qa-lead': 1, 'tech-lead': 1 } };
  env('prod').gate = {
    roles: { 'tech-lead': 1, 'product-owner': 1 },
    rollbackRoles: { 'tech-lead': 1, devops: 1 },
    requesters: ['developer'],
  };
  raw.roles.devops = { users: ['U_OPS'] };
}

/** What the configuration says, computed from it (not from the code under test). */
function policy(config: Config) {
  const rolesOf = (user: string) =>
    Object.entries(config.roles)
      .filter(([, r]) => r.users.includes(user))
      .map(([n]) => n);
  const required = (env: EnvironmentConfig, emergency: boolean) =>
    Object.keys(emergency && env.gate.rollbackRoles ? env.gate.rollbackRoles : env.gate.roles);
  /** Who may ask, and only for a request someone else could approve (every role here needs one). */
  const mayRequest = (env: EnvironmentConfig, user: string, emergency = false) =>
    (!env.gate.requesters.length || env.gate.requesters.some((r) => rolesOf(user).includes(r))) &&
    required(env, emergency).every(
      (role) =>
        (config.roles[role]?.groups.length ?? 0) > 0 || (config.roles[role]?.users ?? []).some((u) => u !== user),
    );
  const mayApprove = (env: EnvironmentConfig, user: string, requester: string, emergency = false) =>
    user !== requester && required(env, emergency).some((r) => rolesOf(user).includes(r));
  const mayReject = (env: EnvironmentConfig, user: string, requester: string) =>
    user === requester || required(env, false).some((r) => rolesOf(user).includes(r));
  const mayLock = (env: EnvironmentConfig, user: string) => {
    const allowed = [
      ...Object.keys(env.gate.roles),
      ...Object.keys(env.gate.rollbackRoles ?? {}),
      ...env.gate.requesters,
    ];
    return !allowed.length || allowed.some((r) => rolesOf(user).includes(r));
  };
  /** One user per role, the requester, and someone with no role at all. */
  const users = [
    ...new Set([
      REQUESTER,
      ...Object.values(config.roles)
        .map((r) => r.users[0]!)
        .filter(Boolean),
      OUTSIDER,
    ]),
  ];
  return { mayRequest, mayApprove, mayReject, mayLock, users };
}

describe('authorisation matrix', () => {
  let t: TestRuntime;
  let refs: string;
  const fam = family('authorisation matrix');

  beforeAll(async () => {
    t = await makeRuntime({ edit: editPolicy });
    refs = refsOf(t.repo('api'));
  });
  afterAll(async () => {
    await t?.close();
    printFamilies();
  });

  /**
   * A deploy tag of `env` itself whose tree differs from its head: a --to that plans (rollback
   * --to takes only a version that ran there). Where the sandbox has none, one is made on the
   * branch's previous commit, as an earlier deploy would have left it.
   */
  const madeTags: string[] = [];
  const rollbackTarget = (env: EnvironmentConfig) => {
    const repo = t.repo('api');
    const tree = git(repo, 'rev-parse', `${env.branch}^{tree}`);
    const own = git(repo, 'tag', '-l', `${env.name}/*`).split('\n').filter(Boolean);
    const found = own.find((tag) => git(repo, 'rev-parse', `${tag}^{tree}`) !== tree);
    if (found) return found;
    const earlier = `${env.name}/2020.01.01.1`;
    git(
      repo,
      '-c',
      'user.name=Conveyor',
      '-c',
      'user.email=conveyor@example.invalid',
      'tag',
      '-a',
      earlier,
      '-m',
      'an earlier deploy',
      `${env.branch}~1`,
    );
    madeTags.push(earlier);
    return earlier;
  };

  /** Ask as the requester; the operation waits for its gate. */
  const ask = async (text: string) => {
    const reply = await t.run(text, REQUESTER);
    if (reply.operation?.state !== 'awaiting-approval') throw new Error(`could not set up "${text}": ${reply.text}`);
    return reply.operation.id;
  };
  const withdraw = async (id: string) => {
    const op = await t.runtime.store.operation(id);
    if (op.state === 'awaiting-approval') await t.run(`reject ${id}`, op.requester);
  };

  const cell = (what: string, expected: boolean, allowed: boolean, detail: string) =>
    fam.record(expected === allowed, `${what}: expected ${expected ? 'allowed' : 'refused'}, got ${detail}`);

  for (const envName of ['qa', 'staging', 'prod']) {
    it(`every command × every kind of user in ${envName}, as configured`, async () => {
      const config = t.config;
      const env = config.environments.find((e) => e.name === envName)!;
      const p = policy(config);
      const to = rollbackTarget(env);
      for (const user of p.users) {
        // promote and rollback (plain and emergency): who may ask
        for (const text of [
          `promote api ${envName}`,
          `rollback api ${envName} --to ${to}`,
          `rollback api ${envName} --to ${to} --emergency`,
        ]) {
          const reply = await t.run(text, user);
          const allowed = reply.operation !== undefined;
          cell(
            `${text} as ${user}`,
            p.mayRequest(env, user, text.endsWith('--emergency')),
            allowed,
            `${reply.status}: ${reply.title}`,
          );
          if (allowed) await withdraw(reply.operation!.id);
          else fam.record(reply.status === 'refused', `${text} as ${user}: refused as ${reply.status}`);
        }
        // approve: a fresh operation each time, asked by the requester
        for (const emergency of [false, true]) {
          const id = await ask(emergency ? `rollback api ${envName} --to ${to} --emergency` : `promote api ${envName}`);
          const reply = await t.run(`approve ${id}`, user);
          const given = (await t.runtime.store.approvals(id)).length;
          cell(
            `approve ${emergency ? 'emergency rollback' : 'promotion'} in ${envName} as ${user}`,
            p.mayApprove(env, user, REQUESTER, emergency),
            given === 1,
            `${reply.status}: ${reply.title}`,
          );
          fam.record(
            (reply.status === 'ok') === (given === 1),
            `approve reply ${reply.status} with ${given} approval(s)`,
          );
          await withdraw(id);
        }
        // reject
        {
          const id = await ask(`promote api ${envName}`);
          const reply = await t.run(`reject ${id} matrix`, user);
          const state = (await t.runtime.store.operation(id)).state;
          const expectedState = user === REQUESTER ? 'cancelled' : 'rejected';
          cell(
            `reject in ${envName} as ${user}`,
            p.mayReject(env, user, REQUESTER),
            state !== 'awaiting-approval',
            `${reply.status}: ${reply.title}`,
          );
          if (state !== 'awaiting-approval') fam.record(state === expectedState, `reject as ${user} ended ${state}`);
          await withdraw(id);
        }
        // lock, then unlock of a lock someone allowed set
        {
          const reply = await t.run(`lock api ${envName} matrix`, user);
          const locked = (await t.runtime.store.locksFor('api', envName)).some((l) => l.manual);
          cell(`lock api ${envName} as ${user}`, p.mayLock(env, user), locked, `${reply.status}: ${reply.title}`);
          const holder = p.users.find((u) => p.mayLock(env, u))!;
          if (!locked) await t.run(`lock api ${envName} matrix`, holder);
          const unlocked = await t.run(`unlock api ${envName}`, user);
          const still = (await t.runtime.store.locksFor('api', envName)).some((l) => l.manual);
          cell(
            `unlock api ${envName} as ${user}`,
            p.mayLock(env, user),
            !still,
            `${unlocked.status}: ${unlocked.title}`,
          );
          if (still) await t.run(`unlock api ${envName}`, holder);
        }
        // reading is open to everyone
        for (const text of [`history api ${envName}`]) {
          const reply = await t.run(text, user);
          cell(`${text} as ${user}`, true, reply.status === 'ok', `${reply.status}: ${reply.title}`);
        }
      }
      expect(fam.lost, fam.losses.join('\n')).toBe(0);
    }, 600_000);
  }

  it('the matrix shipped nothing and left no operation open or lock behind', async () => {
    // The refs as before, but for the earlier deploy tags this file made itself.
    const now = refsOf(t.repo('api'))
      .split('\n')
      .filter((line) => !madeTags.some((tag) => line.includes(`refs/tags/${tag}`)))
      .join('\n');
    expect(now).toBe(refs);
    const open = await t.runtime.store.operations({
      states: ['requested', 'awaiting-approval', 'approved', 'applying'],
    });
    expect(open).toEqual([]);
    expect(await t.runtime.store.allLocks()).toEqual([]);
  });
});
