/**
 * The Reject modal: opened by the Reject button, submitted with a reason. The submission is
 * written to the inbox and acked (a missing reason is answered in the form itself).
 */
import type { App } from '@slack/bolt';
import type { ModalView } from '@slack/web-api';
import { InputError } from '../../../core/errors.js';
import { ID_PATTERN, type SlackSurface } from '../surface.js';

export const REJECT_MODAL_ID = 'conveyor_reject_modal';

interface RejectMetadata {
  op: string;
  channel?: string;
  ts?: string;
}

/** The reason, quoted as one word: apostrophes, leading dashes and the like stay part of it. */
const rejectText = (op: string, reason: string) => `reject ${op} "${reason.replace(/["\\]/g, '\\$&')}"`;

export function registerRejectModal(app: App, s: SlackSurface): void {
  app.view(REJECT_MODAL_ID, async ({ ack, body, view, client }) => {
    const meta = parseRejectMetadata(view.private_metadata);
    const reason = (view.state.values.reason?.reason?.value ?? '').replace(/\s+/g, ' ').trim();
    if (meta && !reason) {
      await ack({ response_action: 'errors', errors: { reason: 'Say why you reject it.' } });
      return;
    }
    const user = body.user.id;
    if (s.inbox && meta) {
      const id = `slack:view:${view.id}`;
      const payload = { text: rejectText(meta.op, reason), user, channel: meta.channel };
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
      if (!meta) throw new InputError('That form is not valid any more; use `reject <operation-id> <reason>` instead.');
      const reply = await s.execute({
        text: rejectText(meta.op, reason),
        user,
        channel: meta.channel,
        idempotencyKey: `slack:view:${view.id}`,
      });
      await s.tellUser(client, user, meta.channel, reply);
    } catch (err) {
      await s.tellUser(client, user, meta?.channel, s.failureLine(err));
    }
  });
}

export function rejectModal(meta: RejectMetadata): ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_MODAL_ID,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'Reject request' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `Reject operation \`${meta.op}\`?` } },
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'reason', multiline: true, max_length: 500 },
      },
    ],
  };
}

/** The modal's metadata came back through Slack: check every field before use. */
function parseRejectMetadata(raw: string): RejectMetadata | null {
  try {
    const meta = JSON.parse(raw) as Record<string, unknown>;
    const { op, channel, ts } = meta;
    if (typeof op !== 'string' || !ID_PATTERN.test(op)) return null;
    if (channel !== undefined && (typeof channel !== 'string' || !/^[A-Z0-9]{1,32}$/.test(channel))) return null;
    if (ts !== undefined && (typeof ts !== 'string' || !/^\d{1,12}\.\d{1,8}$/.test(ts))) return null;
    return { op, channel: channel as string | undefined, ts: ts as string | undefined };
  } catch {
    return null;
  }
}
