import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../../../src/core/errors.js';
import { requesters } from '../../../src/core/gates/requesters.js';
import { gateConfig, gateCtx } from './gate-fixture.js';

describe('gate rule: requesters', () => {
  it('lets anyone ask where the gate names no requesters', async () => {
    expect((await requesters.check(gateCtx('request'))).verdict).toBe('pass');
  });

  it('lets a holder of a listed role ask, and refuses anyone else', async () => {
    const gate = gateConfig({ requesters: ['developer', 'tech-lead'] });
    expect((await requesters.check(gateCtx('request', { gate, requester: 'U_LEAD' }))).verdict).toBe('pass');
    const v = await requesters.check(gateCtx('request', { gate, requester: 'U_PO' }));
    expect(v.verdict === 'refuse' && v.error).toBeInstanceOf(NotAllowedError);
    expect(v.verdict === 'refuse' && v.reason).toBe('only developer or tech-lead may ask for changes in prod');
  });
});
