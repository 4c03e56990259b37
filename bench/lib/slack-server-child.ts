/**
 * A Slack server measured by the slack-ack scenario, in a process of its own (`node --import
 * tsx bench/lib/slack-server-child.ts '<json>'`): either `conveyor serve` on a sandbox workspace
 * (its store a PGlite folder, as serve's default is; dist/ when it is current, as `npx conveyor`
 * runs it) or the baseline, a bare Bolt HTTPReceiver app
 * that only acks. Neither shares its event loop with the fake Slack, the load generator or the
 * scenario's counting. Prints `{"port":N}` once it listens; stops on SIGTERM.
 */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
// @ts-expect-error: a plain ES module of bin/, no declarations
import { buildIsFresh } from '../../bin/build-freshness.js';
import { useSandboxTemplate } from '../../test/support/runtime.js';
import { namedSandboxTemplate } from './sandbox-template.js';
import { makeWorkspace, silentLogger } from './workspace.js';

/** serve as `npx conveyor serve` runs it: the compiled dist/ when it is current, else the sources. */
const { startServer } = (
  buildIsFresh()
    ? await import(new URL('../../dist/src/server/serve.js', import.meta.url).href)
    : await import('../../src/server/serve.js')
) as typeof import('../../src/server/serve.js');

export interface SlackServerChildInput {
  kind: 'conveyor' | 'bare';
  secret: string;
  apiUrl: string;
  token: string;
  botId: string;
  botUserId: string;
}

const input = JSON.parse(process.argv[2] ?? '{}') as SlackServerChildInput;

async function bare(): Promise<{ port: number; stop(): Promise<void> }> {
  const receiver = new HTTPReceiver({
    signingSecret: input.secret,
    endpoints: '/slack/events',
    logLevel: LogLevel.ERROR,
  });
  const app = new App({
    receiver,
    token: input.token,
    botId: input.botId,
    botUserId: input.botUserId,
    tokenVerificationEnabled: false,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: input.apiUrl },
  });
  app.command('/conveyor', async ({ ack }) => {
    await ack();
  });
  const server = await receiver.start({ port: 0, host: '127.0.0.1' });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stop: async () => {
      await app.stop();
    },
  };
}

async function conveyor(): Promise<{ port: number; stop(): Promise<void> }> {
  const template = namedSandboxTemplate(); // the run's sandbox, copied (else one made here)
  if (template) useSandboxTemplate(template);
  // The store serve has by default: a PGlite folder (a copy of the installation's migrated
  // template), so each ack pays for what a real one does (its line in the accept log).
  const [ws, log] = await Promise.all([
    makeWorkspace('slack', (c) => {
      c.state = { url: 'pglite:.conveyor/bench-state' };
    }),
    silentLogger(),
  ]);
  const server = await startServer({
    cwd: ws.root,
    configFile: ws.configFile,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    log,
    env: { SLACK_BOT_TOKEN: input.token, SLACK_SIGNING_SECRET: input.secret, SLACK_API_URL: input.apiUrl },
  });
  return {
    port: server.port,
    stop: async () => {
      await server.stop();
      ws.remove();
    },
  };
}

/** BENCH_CPU_PROF=<folder>: a CPU profile of this server, written when it stops. */
async function profiler(): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return async () => {};
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${dir}/${input.kind}-${process.pid}.cpuprofile`, JSON.stringify(profile));
  };
}

const running = await (input.kind === 'bare' ? bare() : conveyor());
const writeProfile = await profiler();
process.once('SIGTERM', () => {
  void running
    .stop()
    .then(writeProfile)
    .finally(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ port: running.port })}\n`);
