import { it } from 'vitest';
import { makeJournalWorkspace, startJournalServer } from '/work/main/test/support/journal-setup.js';
it('t', async () => {
  let t = Date.now();
  const ws = await makeJournalWorkspace(); console.log('ws', Date.now() - t); t = Date.now();
  const s = await startJournalServer(ws); console.log('start', Date.now() - t); t = Date.now();
  await s.stop(); ws.remove(); console.log('stop', Date.now() - t);
});
