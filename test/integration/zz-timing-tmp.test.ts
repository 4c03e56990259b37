import { it } from 'vitest';
import { makeE2eWorkspace, pushCommits, captureLog } from '/work/main/test/support/slack-e2e-setup.js';
import { startServer } from '/work/main/src/server/serve.js';
it('t', async () => {
  let t = Date.now();
  const ws = await makeE2eWorkspace(); console.log('ws', Date.now() - t); t = Date.now();
  pushCommits(ws.repo('api'), 'develop', 300); console.log('push', Date.now() - t); t = Date.now();
  const s = await startServer({ cwd: ws.root, configFile: ws.configFile, port: 0, host: '127.0.0.1', out: () => {}, log: captureLog().log, env: {} });
  console.log('start', Date.now() - t); t = Date.now();
  await s.stop(); ws.remove(); console.log('stop', Date.now() - t);
});
