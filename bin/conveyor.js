#!/usr/bin/env node
// Entry point. Runs the compiled JavaScript in dist/ when it is up to date with the sources
// (`npm install` builds it; `npm run build` rebuilds it), else the TypeScript sources through
// tsx's loader: a stale build never runs.
import { existsSync } from 'node:fs';
import { buildIsFresh, compiled } from './build-freshness.js';

let cli;
if (process.env.CONVEYOR_FROM_SOURCE !== '1' && buildIsFresh()) {
  cli = await import(compiled);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // A production install (`npm install --omit=dev`, the image) has no tsx: it runs dist/ only.
    process.stderr.write(
      existsSync(compiled)
        ? 'conveyor: dist/ is older than the sources and tsx (a development dependency) is not installed: run `npm run build`\n'
        : 'conveyor: there is no dist/ and tsx (a development dependency) is not installed: run `npm install` (or `npm run build`)\n',
    );
    process.exit(1);
  }
  register();
  cli = await import('../src/cli.ts');
}
process.exitCode = await cli.main(process.argv.slice(2));
// The command is done (a stopped serve or worker has closed what it owns): a timer some component
// left behind must not keep the process alive until the kubelet's SIGKILL. Unref'd, so it only
// fires when something still holds the event loop, and then says what.
setTimeout(() => {
  process.stderr.write(`conveyor: finished, but ${process.getActiveResourcesInfo().join(', ') || 'something'} still held the process; exiting\n`);
  process.exit();
}, 5000).unref();
