/**
 * What brings one environment up to another: the commands Conveyor itself would accept from
 * this user, in order. The first is checked now by the same plan and preflight a real request
 * runs; when it would be refused, the advice says why instead of suggesting it.
 */

import type { AppConfig } from '../config/schema.js';
import { badMarks } from './bad-versions.js';
import { entryName } from './deploy-history.js';
import { type EnvState, hostFor } from './env-state.js';
import { type ConveyorError, isConveyorError, NotAllowedError } from './errors.js';
import { gateContext } from './gates/context.js';
import { runGates } from './gates/run-gates.js';
import { historyOf, NothingToDo, planPromotion, planRollback } from './promotion-plan.js';
import type { Runtime } from './runtime.js';
import { shownTag } from './tag-names.js';

export interface SyncAdvice {
  /** Commands to type, in order; each is accepted once the one before it has finished. */
  commands: string[];
  /** Why no command can do it now (then `commands` is empty). */
  blocked: string | null;
}

export async function adviseSync(
  runtime: Runtime,
  app: AppConfig,
  states: EnvState[],
  srcName: string,
  dstName: string,
  user: string,
): Promise<SyncAdvice> {
  const envs = runtime.config.environments;
  const si = envs.findIndex((e) => e.name === srcName);
  const di = envs.findIndex((e) => e.name === dstName);
  const src = states[si]!;
  const dst = states[di]!;
  if (!src.tree || src.tree === dst.tree) return { commands: [], blocked: null };
  let commands: string[];
  if (di > si) {
    if (di === si + 1) commands = [`promote ${app.name} ${dstName}`];
    else if (envs[di]!.allowSkip)
      commands = [
        `promote ${app.name} ${dstName} --version ${src.tag ? shownTag(hostFor(runtime, app), src.tag.name) : src.head!.slice(0, 12)}`,
      ];
    else {
      // Stage by stage: each environment between them that does not run the version yet.
      commands = [];
      for (let k = si + 1; k <= di; k++)
        if (states[k]!.tree !== src.tree) commands.push(`promote ${app.name} ${envs[k]!.name}`);
    }
  } else {
    // Backwards: only a version the destination ran can come back, by rollback --to.
    const entry = historyOf(dst).entries.find((e) => e.tree === src.tree);
    if (!entry) {
      return {
        commands: [],
        blocked: `${dstName} never ran ${srcName}'s version, and versions move forward only (promote) or back to what an environment ran (rollback --to)`,
      };
    }
    const host = hostFor(runtime, app);
    commands = [`rollback ${app.name} ${dstName} --to ${entry.tag ? shownTag(host, entry.tag) : entryName(entry)}`];
  }
  const refusal = await refusalOf(runtime, app, commands[0]!, user);
  if (!refusal) return checkLaterSteps(runtime, app, states, src.tree, commands, user);
  // A refusal may name the command that does work for this user (e.g. --force): that one, if it passes.
  if (refusal.suggestion && !(await refusalOf(runtime, app, refusal.suggestion, user))) {
    const rest = await checkLaterSteps(runtime, app, states, src.tree, commands, user);
    return {
      commands: [refusal.suggestion, ...rest.commands.slice(1)],
      blocked: [refusal.reason, rest.blocked].filter(Boolean).join('; '),
    };
  }
  return { commands: [], blocked: refusal.reason };
}

/**
 * The steps after the first can only run once the one before has landed, so they cannot be
 * planned now; what does not depend on that is checked now by the gates' `advice` phase (a
 * ticket the stage requires, a version rolled back from there, freezes, who may ask, a gate
 * someone can fill, locks). The advice stops before the first later step that would be
 * refused, and says why.
 */
async function checkLaterSteps(
  runtime: Runtime,
  app: AppConfig,
  states: EnvState[],
  tree: string,
  commands: string[],
  user: string,
): Promise<SyncAdvice> {
  const markedBad = await badMarks(runtime.store, app.name);
  for (const [i, command] of commands.entries()) {
    if (i === 0) continue;
    const envName = command.split(' ')[2]!;
    const target = states.findIndex((s) => s.env.name === envName);
    const req = { kind: 'promote' as const, app: app.name, env: envName, requester: user, emergency: false };
    const outcome = await runGates(
      gateContext(runtime, 'advice', req, { locks: runtime.store, promotion: { states, target, tree, markedBad } }),
    );
    const reason = outcome.verdict === 'refuse' ? outcome.reason : null;
    if (reason)
      return { commands: commands.slice(0, i), blocked: `after that, \`${command}\` would be refused now: ${reason}` };
  }
  return { commands, blocked: null };
}

/**
 * A refusal that names a way out (`--force`): keep the way out only if Conveyor would accept it
 * from this user now, and say so in the message; otherwise say why it would be refused too.
 */
export async function checkedRefusal(
  runtime: Runtime,
  app: AppConfig,
  err: ConveyorError,
  user: string,
): Promise<ConveyorError> {
  if (!err.suggestion) return err;
  const refused = await refusalOf(runtime, app, err.suggestion, user);
  if (!refused)
    return new NotAllowedError(`${err.message}; to ship it anyway: ${err.suggestion}`, { suggestion: err.suggestion });
  return new NotAllowedError(
    `${err.message}; ${refused.reason.replace(/^`([^`]+)` would be refused now: /, '`$1` would be refused too: ')}`,
  );
}

/** Run the plan and preflight of a promote/rollback command as `user`: why it would be refused, or null. */
async function refusalOf(
  runtime: Runtime,
  app: AppConfig,
  command: string,
  user: string,
): Promise<{ reason: string; suggestion: string | null } | null> {
  const [kind, , envName, ...flags] = command.split(' ');
  const flag = (name: string) => {
    const i = flags.indexOf(`--${name}`);
    return i === -1 ? undefined : flags[i + 1];
  };
  const env = runtime.config.environments.find((e) => e.name === envName)!;
  try {
    const plan =
      kind === 'promote'
        ? await planPromotion(runtime, {
            app,
            env: envName,
            version: flag('version'),
            ticket: flag('ticket'),
            requester: user,
            force: flags.includes('--force'),
          })
        : await planRollback(runtime, { app, env, to: flag('to'), emergency: false });
    await runtime.engine.preflight({
      kind: kind as 'promote' | 'rollback',
      app: app.name,
      env: plan.env,
      requester: user,
      emergency: false,
    });
    return null;
  } catch (err) {
    if (err instanceof NothingToDo)
      return { reason: `\`${command}\` has nothing to do: ${err.message}`, suggestion: null };
    if (isConveyorError(err))
      return { reason: `\`${command}\` would be refused now: ${err.message}`, suggestion: err.suggestion ?? null };
    throw err;
  }
}
