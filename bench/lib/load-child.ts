/**
 * The Slack load generator in its own process (`node --import tsx bench/lib/load-child.ts
 * '<json>'`), so the server measured never shares an event loop or a core's time slice with
 * the code that drives it: signed slash commands, closed loop (lib/load.ts), the command texts
 * taken in turn. Prints one JSON line: the LoadResult and the wall-clock start and end.
 *
 * Without the JSON argument it is a generator started ahead: once loaded it prints `ready` and
 * waits, idle, for its input as one JSON line on stdin (so its start-up is not in the way of
 * the scenario's runs), then runs as above.
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

/** The input: on the command line, or one line on stdin once this process has said it is ready. */
async function readInput(): Promise<LoadChildInput> {
  if (process.argv[2]) return JSON.parse(process.argv[2]) as LoadChildInput;
  process.stdout.write('ready\n');
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return JSON.parse(text.split('\n')[0] ?? '{}') as LoadChildInput;
}

const input = await readInput();
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
