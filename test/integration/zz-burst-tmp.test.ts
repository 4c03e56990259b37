import { it, expect } from 'vitest';
import { makeRuntime } from '/work/main/test/support/runtime.js';
it('burst', async () => {
  let t0 = Date.now();
  const t = await makeRuntime();
  console.log('runtime', Date.now() - t0); t0 = Date.now();
  await t.run('diff development qa api');
  console.log('one diff', Date.now() - t0); t0 = Date.now();
  await t.run('promote api qa --dry-run');
  console.log('one dry', Date.now() - t0); t0 = Date.now();
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => t.run('promote api qa', `U_C${i}`, `k${i}`)));
  console.log('burst', Date.now() - t0);
  console.log(replies.map((r) => `${r.status} ${r.title}`).join('\n'));
  await t.close();
}, 300_000);
