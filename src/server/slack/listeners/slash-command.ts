/**
 * `/conveyor …`: written to the durable inbox, then acked; the inbox worker runs it and answers.
 * When the work waiting after acks is at its bound, the ack itself answers "busy" (privately, at
 * once) and nothing is accepted: the user knows to try again, nothing is silently queued.
 */
import type { App, RespondFn, SlashCommand } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { escapeMrkdwn, renderReplyBlocks, renderReplyText } from '../../../adapters/slack-blocks.js';
import { toSlackError } from '../../../adapters/slack-notifier.js';
import { type SlackSurface, withoutTokens } from '../surface.js';

export const BUSY_TEXT =
  ':hourglass: Conveyor is busy with many requests right now and did not take this one. Please try again in a minute.';

export function registerSlashCommand(app: App, s: SlackSurface, command: string): void {
  const posted = new RecentKeys(5000);
  app.command(command, async ({ ack, command: cmd, respond, client }) => {
    if (s.saturated()) {
      s.busy(cmd.user_id);
      await ack({ response_type: 'ephemeral', text: BUSY_TEXT });
      return;
    }
    if (s.inbox) {
      // Durable before the ack: if this write fails, Slack gets no ack and tells the user.
      const id = `slack:${cmd.team_id}:${cmd.trigger_id}`;
      const payload = {
        text: withoutTokens(cmd.text.trim()) || 'help',
        user: cmd.user_id,
        channel: cmd.channel_id,
        channelName: cmd.channel_name,
        responseUrl: cmd.response_url,
      };
      const fresh = await s.inbox.accept(id, 'command', payload);
      try {
        await ack();
      } finally {
        // taken: it runs even if the ack failed (Slack's retry then finds it taken)
        if (fresh) s.inbox.enqueue(id, { kind: 'command', payload });
        else s.logger.info({ id }, 'a redelivered command: the first delivery answers it; not posting again');
      }
      return;
    }
    await ack();
    s.afterAck(() => runCommand(s, posted, cmd, respond, client));
  });
}

/** Without an inbox (transport tests): run the command in memory and answer. */
async function runCommand(
  s: SlackSurface,
  posted: RecentKeys,
  cmd: SlashCommand,
  respond: RespondFn,
  client: WebClient,
): Promise<void> {
  const channel = cmd.channel_id;
  const key = cmd.trigger_id ? `slack:${cmd.team_id}:${cmd.trigger_id}` : undefined;
  try {
    const text = withoutTokens(cmd.text.trim()) || 'help';
    const reply = await s.execute({ text, user: cmd.user_id, channel, idempotencyKey: key });
    if (reply.replayed) {
      s.logger.info({ key }, 'a redelivered command: the first delivery answers it; not posting again');
      return;
    }
    if (reply.ephemeral || reply.status !== 'ok') return await s.respondEphemeral(respond, reply);
    const claim = reply.operation ? `op:${reply.operation.id}` : key ? `key:${key}` : undefined;
    if (claim && !posted.claim(claim)) {
      s.logger.info({ claim }, 'reply already posted for this request; not posting again');
      return;
    }
    let ts: string;
    try {
      const res = await client.chat.postMessage({
        channel,
        text: renderReplyText(reply),
        blocks: renderReplyBlocks(reply),
        unfurl_links: false,
      });
      ts = String(res.ts);
    } catch (err) {
      if (claim) posted.release(claim);
      const channelName = /^(privategroup|directmessage)$/.test(cmd.channel_name) ? undefined : cmd.channel_name;
      const known = toSlackError(err, { method: 'chat.postMessage', channel, channelName });
      if (known.code !== 'NOT_ALLOWED' && known.code !== 'NOT_FOUND') throw known;
      await s.respondEphemeral(respond, `${renderReplyText(reply)}\n:warning: ${escapeMrkdwn(known.message)}`);
      return;
    }
    if (reply.operation) await s.service.attachMessage(reply.operation.id, { channel, ts }, reply.operation.state);
  } catch (err) {
    await s.respondEphemeral(respond, s.failureLine(err));
  }
}

/** Claims remembered by this process (bounded): a reply is posted once per operation or request. */
class RecentKeys {
  private readonly keys = new Set<string>();
  constructor(private readonly limit: number) {}
  claim(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }
  release(key: string): void {
    this.keys.delete(key);
  }
}
