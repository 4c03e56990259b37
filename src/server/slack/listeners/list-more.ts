/**
 * The "Show N more" button under a `list` longer than one message holds: it runs the view's
 * command again as the person who clicked (so they see what they may see, as of now) and
 * replaces the message with the next page through the action's `response_url`.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { renderReplyBlocks, renderReplyText } from '../../../adapters/slack-blocks.js';
import { LIST_MORE_ACTION, parseMoreButton } from '../../../adapters/slack-matrix-blocks.js';
import { InputError } from '../../../core/errors.js';
import type { SlackSurface } from '../surface.js';

export function registerListMore(app: App, s: SlackSurface): void {
  app.action<BlockAction<ButtonAction>>(LIST_MORE_ACTION, async ({ ack, body, action, respond, client }) => {
    await ack();
    const user = body.user.id;
    const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
    const more = parseMoreButton(String(action.value ?? ''));
    s.afterAck(async () => {
      try {
        if (!more) throw new InputError('That button carries an invalid value; type `list` again instead.');
        const reply = await s.execute({ text: more.command, user, channel });
        await respond({
          replace_original: true,
          text: renderReplyText(reply),
          blocks: renderReplyBlocks(reply, { matrixFrom: more.from }),
        });
      } catch (err) {
        await s.tellUser(client, user, channel, s.failureLine(err));
      }
    });
  });
}
