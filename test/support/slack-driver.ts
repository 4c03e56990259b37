/**
 * Plays Slack against a running app: sends correctly signed (v0 HMAC-SHA256 over
 * `v0:ts:body`) slash commands, block_actions, view_submissions and events to its
 * `/slack/events` URL — or deliberately forged ones (wrong secret, missing headers, stale
 * timestamp, altered body) and retries (`x-slack-retry-num`).
 */
import { createHmac } from 'node:crypto';

export interface SlackDriverOptions {
  /** The app's request URL, e.g. `http://127.0.0.1:PORT/slack/events`. */
  url: string;
  signingSecret: string;
  teamId?: string;
  /** Seconds since the epoch (for the timestamp header). */
  now?: () => number;
}

export interface Forgery {
  /** Sign with this secret instead of the right one. */
  secret?: string;
  /** Leave out both headers, or one of them. */
  omitHeaders?: 'both' | 'signature' | 'timestamp';
  /** Timestamp to sign and send (seconds); e.g. now - 600 for a stale one. */
  timestamp?: number;
  /** Change the body after signing it. */
  alterBody?: (body: string) => string;
  /** Send `x-slack-retry-num` (and `x-slack-retry-reason`) like a Slack redelivery. */
  retryNum?: number;
  retryReason?: string;
}

export interface DriverResponse {
  status: number;
  body: string;
}

export interface SlashCommandInput {
  text: string;
  user?: string;
  channel?: string;
  command?: string;
  triggerId?: string;
  responseUrl?: string;
}

export interface BlockActionInput {
  actionId: string;
  value: string;
  user: string;
  channel?: string;
  messageTs?: string;
  triggerId?: string;
  responseUrl?: string;
  blockId?: string;
}

export interface ViewSubmissionInput {
  callbackId: string;
  user: string;
  /** `state.values`: block id → action id → element state, e.g. `{ type: 'plain_text_input', value }`. */
  values: Record<string, Record<string, Record<string, unknown>>>;
  privateMetadata?: string;
  viewId?: string;
  triggerId?: string;
}

/** Slack's v0 signature of a request body. */
export function signSlackRequest(secret: string, timestampSec: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

let counter = 0;
const nextId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}`;

export class SlackDriver {
  readonly teamId: string;
  private readonly now: () => number;

  constructor(private readonly options: SlackDriverOptions) {
    this.teamId = options.teamId ?? 'T0000001';
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  slashCommand(input: SlashCommandInput, forgery: Forgery = {}): Promise<DriverResponse> {
    const form = new URLSearchParams({
      token: 'deprecated-verification-token',
      team_id: this.teamId,
      team_domain: 'fake',
      channel_id: input.channel ?? 'C0DEPLOY1',
      channel_name: 'deploys',
      user_id: input.user ?? 'U0ALICE01',
      user_name: 'alice',
      command: input.command ?? '/conveyor',
      text: input.text,
      api_app_id: 'A0CONVEYOR',
      is_enterprise_install: 'false',
      response_url: input.responseUrl ?? 'https://hooks.slack.invalid/commands/T0000001/1/x',
      trigger_id: input.triggerId ?? nextId('tr.'),
    });
    return this.send(form.toString(), 'application/x-www-form-urlencoded', forgery);
  }

  blockAction(input: BlockActionInput, forgery: Forgery = {}): Promise<DriverResponse> {
    const channel = input.channel ?? 'C0DEPLOY1';
    const messageTs = input.messageTs ?? '1700000000.000001';
    const payload = {
      type: 'block_actions',
      user: {
        id: input.user,
        username: input.user.toLowerCase(),
        name: input.user.toLowerCase(),
        team_id: this.teamId,
      },
      api_app_id: 'A0CONVEYOR',
      token: 'deprecated-verification-token',
      container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
      trigger_id: input.triggerId ?? nextId('tr.'),
      team: { id: this.teamId, domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: channel, name: 'deploys' },
      message: { type: 'message', user: 'UBOT0001', ts: messageTs, text: '', blocks: [] },
      response_url: input.responseUrl ?? 'https://hooks.slack.invalid/actions/T0000001/1/x',
      actions: [
        {
          action_id: input.actionId,
          block_id: input.blockId ?? 'b1',
          text: { type: 'plain_text', text: 'Click', emoji: true },
          value: input.value,
          type: 'button',
          action_ts: `${this.now()}.000100`,
        },
      ],
      state: { values: {} },
    };
    return this.sendPayload(payload, forgery);
  }

  viewSubmission(input: ViewSubmissionInput, forgery: Forgery = {}): Promise<DriverResponse> {
    const payload = {
      type: 'view_submission',
      team: { id: this.teamId, domain: 'fake' },
      user: {
        id: input.user,
        username: input.user.toLowerCase(),
        name: input.user.toLowerCase(),
        team_id: this.teamId,
      },
      api_app_id: 'A0CONVEYOR',
      token: 'deprecated-verification-token',
      trigger_id: input.triggerId ?? nextId('tr.'),
      view: {
        id: input.viewId ?? nextId('V'),
        team_id: this.teamId,
        type: 'modal',
        blocks: [],
        private_metadata: input.privateMetadata ?? '',
        callback_id: input.callbackId,
        state: { values: input.values },
        hash: nextId('h.'),
        title: { type: 'plain_text', text: 'Modal' },
        app_id: 'A0CONVEYOR',
        bot_id: 'BBOT0001',
      },
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
    return this.sendPayload(payload, forgery);
  }

  appHomeOpened(input: { user: string; tab?: 'home' | 'messages'; eventId?: string }, forgery: Forgery = {}) {
    const body = {
      token: 'deprecated-verification-token',
      team_id: this.teamId,
      api_app_id: 'A0CONVEYOR',
      event: {
        type: 'app_home_opened',
        user: input.user,
        channel: 'D0HOME0001',
        tab: input.tab ?? 'home',
        event_ts: `${this.now()}.000200`,
      },
      type: 'event_callback',
      event_id: input.eventId ?? nextId('Ev'),
      event_time: this.now(),
      authorizations: [{ enterprise_id: null, team_id: this.teamId, user_id: 'UBOT0001', is_bot: true }],
      is_ext_shared_channel: false,
    };
    return this.send(JSON.stringify(body), 'application/json', forgery);
  }

  urlVerification(challenge: string, forgery: Forgery = {}): Promise<DriverResponse> {
    const body = { token: 'deprecated-verification-token', challenge, type: 'url_verification' };
    return this.send(JSON.stringify(body), 'application/json', forgery);
  }

  /** Interactivity payloads arrive form-encoded as `payload=<json>`. */
  sendPayload(payload: unknown, forgery: Forgery = {}): Promise<DriverResponse> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.send(body, 'application/x-www-form-urlencoded', forgery);
  }

  async send(body: string, contentType: string, forgery: Forgery = {}): Promise<DriverResponse> {
    const timestamp = forgery.timestamp ?? this.now();
    const signature = signSlackRequest(forgery.secret ?? this.options.signingSecret, timestamp, body);
    const headers: Record<string, string> = { 'content-type': contentType };
    if (forgery.omitHeaders !== 'both' && forgery.omitHeaders !== 'signature') headers['x-slack-signature'] = signature;
    if (forgery.omitHeaders !== 'both' && forgery.omitHeaders !== 'timestamp')
      headers['x-slack-request-timestamp'] = String(timestamp);
    if (forgery.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(forgery.retryNum);
      headers['x-slack-retry-reason'] = forgery.retryReason ?? 'http_timeout';
    }
    const sent = forgery.alterBody ? forgery.alterBody(body) : body;
    const res = await fetch(this.options.url, { method: 'POST', headers, body: sent });
    return { status: res.status, body: await res.text() };
  }
}
