/**
 * The real `serve` (startServer) on loopback over a fresh copy of the sandbox repositories,
 * with a cloned in-memory store, journal tokens for three clusters (two writable, one
 * read-only) and, when asked, Slack pointed at a fake. What the hostile families attack.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { systemClock } from '../../../src/core/ports.js';
import { type RunningServer, startServer } from '../../../src/server/serve.js';
import { clonedStore, copySandbox } from '../../support/runtime.js';

export const TOKENS = {
  'dev-modelling': 'tok-dev-modelling-0123456789',
  'prod-modelling': 'tok-prod-modelling-0123456789',
  'qa-execution': 'tok-qa-execution-readonly-0123',
  qa: 'tok-agent-qa-0123456789',
} as const;

export interface HostileServer {
  server: RunningServer;
  base: string;
  repo(app: string): string;
  close(): Promise<void>;
}

export async function startHostileServer(
  options: { env?: Record<string, string>; edit?: (raw: Record<string, any>) => void } = {},
): Promise<HostileServer> {
  const root = mkdtempSync(join(tmpdir(), 'conveyor-hostile-'));
  const sandbox = await copySandbox(root);
  const raw = parse(readFileSync(sandbox.configFile, 'utf8')) as Record<string, any>;
  raw.state = { url: 'pglite:memory' };
  options.edit?.(raw);
  const configFile = join(sandbox.dir, 'hostile.yaml');
  writeFileSync(configFile, stringify(raw));
  const server = await startServer({
    cwd: root,
    configFile,
    port: 0,
    host: '127.0.0.1',
    out: () => {},
    log: pino({ level: 'silent' }),
    env: {
      JOURNAL_TOKENS: Object.entries(TOKENS)
        .map(([name, token]) => `${name}=${token}`)
        .join(','),
      ...options.env,
    },
    compose: { state: await clonedStore(systemClock) },
  });
  return {
    server,
    base: `http://127.0.0.1:${server.port}`,
    repo: (app) => join(sandbox.dir, 'repos', `${app}.git`),
    async close() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
