/**
 * The Slack load generator in its own process (`node --import tsx bench/lib/load-child.ts
 * '<json>'`), so the server measured never shares an event loop or a core's time slice with
 * the code that drives it: signed slash commands, closed loop (lib/load.ts), the command texts
 * taken in turn. Prints one JSON line: the LoadResult and the wall-clock start and end.
 */
import { signSlackRequest } from '../../test/support/slack-driver.js';
import { runLoad } from './load.js';

export interface LoadChildInput {
  port: number;
  total: number;
  concurrency: number;
  secret: string;
  responseUrl: string;
  texts: string[];
  user: string;
}

const input = JSON.parse(process.argv[2] ?? '{}') as LoadChildInput;
let seq = 0;
/** Each command gets its own response_url (`<responseUrl>-<i>`), so its reply is counted once. */
function slashCommand(text: string, i: number) {
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0000001',
    team_domain: 'bench',
    channel_id: 'C0BENCH01',
    channel_name: 'deploys',
    user_id: input.user,
    user_name: 'demo',
    command: '/conveyor',
    text,
    api_app_id: 'A0CONVEYOR',
    is_enterprise_install: 'false',
    response_url: `${input.responseUrl}-${i}`,
    trigger_id: `tr.bench.${process.pid}.${++seq}`,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return {
    path: '/slack/events',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-signature': signSlackRequest(input.secret, ts, body),
      'x-slack-request-timestamp': String(ts),
    },
  };
}

const startedAt = Date.now();
const result = await runLoad({
  port: input.port,
  total: input.total,
  concurrency: input.concurrency,
  make: (i) => slashCommand(input.texts[i % input.texts.length]!, i),
});
process.stdout.write(`${JSON.stringify({ ...result, startedAt, endedAt: Date.now() })}\n`);
