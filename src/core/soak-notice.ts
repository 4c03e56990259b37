/**
 * The message a failure inside a soak window posts in the environment's channel: what failed,
 * and, when nothing rolled back by itself, a "Roll back" button. The button carries the command
 * it stands for (`rollback <app> <env> --to <version>`, the version that ran before): a click
 * submits that as an ordinary request of the person who clicked, through every gate, and since
 * it names the version to return to, a second click (by anyone) finds nothing left to do.
 */
import type { Reply } from './reply.js';

export const SOAK_ROLLBACK_ACTION = 'soak_rollback';

/** What a soak button's value may be: exactly one rollback command, nothing else. */
export const SOAK_ROLLBACK_VALUE = /^rollback [a-z][a-z0-9-]{0,62} [a-z][a-z0-9-]{0,30} --to [A-Za-z0-9._/-]{1,200}$/;

export function soakFailureReply(o: {
  title: string;
  lines: string[];
  /** The rollback the button submits, or null for none (an automatic rollback started, or nowhere to go). */
  rollback: string | null;
}): Reply {
  const rollback = o.rollback && SOAK_ROLLBACK_VALUE.test(o.rollback) ? o.rollback : null;
  return {
    status: 'ok',
    title: o.title,
    blocks: [
      { type: 'text', text: [o.title, ...o.lines].join('\n') },
      ...(rollback
        ? [
            {
              type: 'buttons' as const,
              buttons: [
                {
                  action: SOAK_ROLLBACK_ACTION,
                  label: 'Roll back',
                  value: rollback,
                  style: 'danger' as const,
                  confirm: {
                    title: 'Roll back?',
                    text: `This asks for \`${rollback}\` as you, through the environment's gate.`,
                    yes: 'Roll back',
                    no: 'Cancel',
                  },
                },
              ],
            },
          ]
        : []),
    ],
  };
}
