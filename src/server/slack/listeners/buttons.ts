/**
 * The Approve and Reject buttons on an operation's message (and in App Home). Approve is written
 * to the inbox and acked; Reject opens the reason modal (./reject-modal.ts). The button's value
 * is only an operation id (and a role): who may approve is decided by the service.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { toSlackError } from '../../../adapters/slack-notifier.js';
import { InputError } from '../../../core/errors.js';
import { ID_PATTERN, type SlackSurface } from '../surface.js';
import { rejectModal } from './reject-modal.js';

export const SLACK_ACTION_PATTERN = /^conveyor_(approve|reject)(?::\d+)?$/;

export function registerButtons(app: App, s: SlackSurface): void {
  app.action<BlockAction<ButtonAction>>(SLACK_ACTION_PATTERN, async ({ ack, body, action, client }) => {
    const user = body.user.id;
    const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
    const verb = SLACK_ACTION_PATTERN.exec(action.action_id)?.[1];
    const [opId, role, ...extra] = String(action.value ?? '').split('|');
    const validValue =
      ID_PATTERN.test(opId ?? '') && (role === undefined || ID_PATTERN.test(role)) && extra.length === 0;
    if (s.inbox && verb === 'approve' && validValue) {
      const id = `slack:${body.team?.id ?? ''}:${body.trigger_id}`;
      const payload = { text: `approve ${opId}`, user, channel, fromHome: body.view?.type === 'home' };
      const fresh = await s.inbox.accept(id, 'action', payload);
      try {
        await ack();
      } finally {
        if (fresh) s.inbox.enqueue(id, { kind: 'action', payload }); // taken: it runs even if the ack failed
      }
      return;
    }
    await ack();
    try {
      if (!validValue)
        throw new InputError('That button carries an invalid value; use `approve <operation-id>` instead.');
      if (verb === 'reject') {
        const view = rejectModal({ op: opId!, channel, ts: body.container?.message_ts as string | undefined });
        await client.views.open({ trigger_id: body.trigger_id, view }).catch((err: unknown) => {
          throw toSlackError(err, { method: 'views.open' });
        });
        return;
      }
      const reply = await s.execute({
        text: `approve ${opId}`,
        user,
        channel,
        idempotencyKey: `slack:${body.team?.id ?? ''}:${body.trigger_id}`,
      });
      await s.tellUser(client, user, channel, reply);
      if (body.view?.type === 'home') await s.publishHome(client, user);
    } catch (err) {
      await s.tellUser(client, user, channel, s.failureLine(err));
    }
  });
}
