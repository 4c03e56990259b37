/**
 * The "Roll back" button on a soak failure (src/core/soak-notice.ts). Its value is the rollback
 * command it stands for (checked against one strict pattern); the click submits that command as
 * the person who clicked, as if typed in that channel (the durable inbox and the dispatcher), so every gate applies
 * (who may ask, approvals, locks, freezes) and a refusal is told to that person in one line.
 * The inbox id is per button and person: a double click is accepted once.
 */
import { createHash } from 'node:crypto';
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { InputError } from '../../../core/errors.js';
import { SOAK_ROLLBACK_ACTION, SOAK_ROLLBACK_VALUE } from '../../../core/soak-notice.js';
import type { SlackSurface } from '../surface.js';

export const SOAK_ROLLBACK_PATTERN = new RegExp(`^conveyor_${SOAK_ROLLBACK_ACTION}$`);

export function registerSoakRollback(app: App, s: SlackSurface): void {
  app.action<BlockAction<ButtonAction>>(SOAK_ROLLBACK_PATTERN, async ({ ack, body, action, client }) => {
    const user = body.user.id;
    const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
    const text = String(action.value ?? '');
    const valid = SOAK_ROLLBACK_VALUE.test(text);
    const button = createHash('sha256')
      .update(`${body.container?.message_ts ?? ''}\n${text}`)
      .digest('hex')
      .slice(0, 16);
    const id = `slack:${body.team?.id ?? ''}:soak-rollback:${button}:${user}`;
    if (s.inbox && valid && channel && body.response_url) {
      // Handled as the command typed in that channel: the rollback gets its own living message
      // in the environment's channel; a refusal is told privately to the person who clicked.
      const payload = { text, user, channel, responseUrl: body.response_url };
      const fresh = await s.inbox.accept(id, 'command', payload);
      try {
        await ack();
      } finally {
        if (fresh) s.inbox.enqueue(id, { kind: 'command', payload }); // taken: it runs even if the ack failed
      }
      return;
    }
    await ack();
    try {
      if (!valid) throw new InputError('That button carries an invalid value; type `rollback <app> <env>` instead.');
      const reply = await s.execute({ text, user, channel, idempotencyKey: id });
      await s.tellUser(client, user, channel, reply);
    } catch (err) {
      await s.tellUser(client, user, channel, s.failureLine(err));
    }
  });
}
