/**
 * Slack errors as the Conveyor family: `not_in_channel` is a NotAllowedError that says how to fix
 * it; the rest are UpstreamErrors whose text never carries a token.
 */
import {
  ErrorCode,
  type WebAPIHTTPError,
  type WebAPIPlatformError,
  type WebAPIRateLimitedError,
  type WebAPIRequestError,
} from '@slack/web-api';
import { type ConveyorError, isConveyorError, NotAllowedError, NotFoundError, UpstreamError } from '../core/errors.js';

const TOKEN_PATTERN = /xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+/g;
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive']);

/** How a channel is named in a fix-it line: `<#C123>` renders as a link in Slack. */
export function channelLabel(channel: string): string {
  if (channel.startsWith('#')) return channel;
  return /^[CGD][A-Z0-9]{6,}$/.test(channel) ? `<#${channel}>` : `#${channel}`;
}

/** Turn anything the WebClient throws into a Conveyor error with a short, token-free message. */
export function toSlackError(
  err: unknown,
  context: { method: string; channel?: string; channelName?: string },
): ConveyorError {
  if (isConveyorError(err)) return err;
  const named = context.channelName ? `#${context.channelName.replace(/^#/, '')}` : context.channel;
  const where = named ? ` in ${channelLabel(named)}` : '';
  const code = (err as { code?: string } | null)?.code;
  if (code === ErrorCode.PlatformError) {
    const slackError = String((err as WebAPIPlatformError).data?.error ?? 'unknown_error');
    if (slackError === 'not_in_channel' || slackError === 'channel_not_found') {
      const label = named ? channelLabel(named) : 'the channel';
      const fix = `run \`/invite @Conveyor\` in ${label}`;
      return slackError === 'not_in_channel'
        ? new NotAllowedError(`Conveyor is not a member of ${label}: ${fix}`, { cause: err })
        : new NotFoundError(`Slack channel ${label} not found (a private channel? ${fix})`, { cause: err });
    }
    if (AUTH_ERRORS.has(slackError)) {
      return new UpstreamError('slack', `Slack refused the bot token (${slackError}): check SLACK_BOT_TOKEN`, {
        cause: err,
      });
    }
    return new UpstreamError('slack', `Slack ${context.method} failed${where}: ${slackError}`, {
      cause: err,
    });
  }
  if (code === ErrorCode.RateLimitedError) {
    const after = (err as WebAPIRateLimitedError).retryAfter;
    return new UpstreamError('slack', `Slack is rate limiting ${context.method}: retry after ${after}s`, {
      cause: err,
    });
  }
  if (code === ErrorCode.HTTPError) {
    const status = (err as WebAPIHTTPError).statusCode;
    return new UpstreamError('slack', `Slack ${context.method} answered HTTP ${status}`, { cause: err });
  }
  const original = code === ErrorCode.RequestError ? (err as WebAPIRequestError).original : err;
  const detail = sanitize(original instanceof Error ? original.message : String(original));
  return new UpstreamError('slack', `Slack is unreachable (${context.method}): ${detail}`, { cause: err });
}

function sanitize(text: string): string {
  return text.replace(TOKEN_PATTERN, '[token]').replace(/\?[^\s)]*/g, '');
}
