/**
 * `conveyor verify-worker --name <w> --server <url>`: runs the `command` checks serve assigns to
 * worker <w> (src/verify/worker.ts) until SIGTERM or SIGINT. Its token is VERIFY_WORKER_TOKEN
 * (or VERIFY_WORKER_TOKEN_FILE, read again for every call so a rotated Secret takes effect).
 */
import { parseArgs } from 'node:util';
import { VERIFY_WORKER_USAGE } from '../cli-usage.js';
import { readSecrets, secretValues } from '../config/secrets.js';
import { InputError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { workerName } from './schema.js';
import { runVerifyWorker } from './worker.js';

export async function verifyWorkerMain(
  args: string[],
  io: { out: (s: string) => void; err: (s: string) => void },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { name: { type: 'string' }, server: { type: 'string' }, poll: { type: 'string' } },
    strict: true,
  });
  if (!values.name || !values.server) throw new InputError(`--name and --server are required\n${VERIFY_WORKER_USAGE}`);
  if (!workerName.safeParse(values.name).success)
    throw new InputError('--name: a worker name of lowercase letters, digits and dashes');
  let server: URL;
  try {
    server = new URL(values.server);
    if (!/^https?:$/.test(server.protocol)) throw new Error('scheme');
  } catch {
    throw new InputError('--server: an http(s) URL of serve, e.g. https://conveyor.example.com');
  }
  const poll = values.poll === undefined ? 2 : Number(values.poll);
  if (!Number.isFinite(poll) || poll < 0.05 || poll > 600) throw new InputError('--poll: seconds, 0.05 to 600');
  const token = () => {
    const t = readSecrets(env).VERIFY_WORKER_TOKEN;
    if (!t) throw new InputError('VERIFY_WORKER_TOKEN (or VERIFY_WORKER_TOKEN_FILE) is not set');
    return t;
  };
  token(); // refuse to start without one
  const log = createLogger({ secrets: secretValues(readSecrets(env)) }).child({
    component: 'verify-worker',
    worker: values.name,
  });
  const abort = new AbortController();
  const stop = () => abort.abort(new Error('stopped'));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await runVerifyWorker({
      server: server.toString(),
      name: values.name,
      token,
      log,
      pollMs: poll * 1000,
      signal: abort.signal,
    });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  io.out(`verify-worker ${values.name} stopped`);
  return 0;
}
