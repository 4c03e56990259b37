import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServiceNowTickets } from '../../src/adapters/servicenow.js';
import { InputError, UpstreamError } from '../../src/core/errors.js';
import { ServiceNowFake } from '../support/servicenow-fake.js';

let fake: ServiceNowFake;

beforeEach(async () => {
  fake = await ServiceNowFake.start({ user: 'conveyor', password: 's3cret-pw', token: 'tok-123' });
});
afterEach(async () => {
  await fake.close();
});

function tickets(overrides: Partial<ConstructorParameters<typeof ServiceNowTickets>[0]> = {}) {
  return new ServiceNowTickets({
    baseUrl: fake.url,
    auth: { user: 'conveyor', password: 's3cret-pw' },
    retries: 3,
    minRetryMs: 5,
    ...overrides,
  });
}

describe('ServiceNowTickets', () => {
  it('approves a change that is approved and scheduled or being implemented', async () => {
    fake.setTicket('CHG0030001', { state: 'Implement', approval: 'approved' });
    fake.setTicket('CHG0030002', { state: 'Scheduled', approval: 'approved' });
    expect(await tickets().check('CHG0030001')).toEqual({
      number: 'CHG0030001',
      verdict: 'approved',
      detail: 'state=Implement approval=approved',
    });
    expect((await tickets({ auth: { token: 'tok-123' } }).check('CHG0030002')).verdict).toBe('approved');
    const q = fake.requests.at(-1)!.query;
    expect(q).toMatchObject({ sysparm_query: 'number=CHG0030002', sysparm_limit: '1' });
    expect(q.sysparm_fields?.split(',')).toEqual(expect.arrayContaining(['number', 'state', 'approval']));
  });

  it('keeps a change pending while it waits for approval or a schedule', async () => {
    fake.setTicket('CHG0030003', { state: 'Authorize', approval: 'requested' });
    fake.setTicket('CHG0030004', { state: 'Assess', approval: 'approved' });
    expect(await tickets().check('CHG0030003')).toMatchObject({
      verdict: 'pending',
      detail: 'state=Authorize approval=requested',
    });
    expect((await tickets().check('CHG0030004')).verdict).toBe('pending');
    // Configurable: some instances let an approved change in Assess through.
    expect((await tickets({ approvedStates: ['Assess'] }).check('CHG0030004')).verdict).toBe('approved');
  });

  it('rejects a change that was rejected, canceled or closed', async () => {
    fake.setTicket('CHG0030005', { state: 'Authorize', approval: 'rejected' });
    fake.setTicket('CHG0030006', { state: 'Canceled', approval: 'approved' });
    fake.setTicket('CHG0030007', { state: 'Closed', approval: 'approved' });
    expect((await tickets().check('CHG0030005')).verdict).toBe('rejected');
    expect(await tickets().check('CHG0030006')).toMatchObject({
      verdict: 'rejected',
      detail: 'state=Canceled approval=approved',
    });
    expect((await tickets().check('CHG0030007')).verdict).toBe('rejected');
  });

  it('reports a number that does not exist as missing', async () => {
    fake.setTicket('CHG0030008', { state: 'Implement', approval: 'approved' });
    fake.removeTicket('CHG0030008');
    expect(await tickets().check('CHG0030008')).toMatchObject({ number: 'CHG0030008', verdict: 'missing' });
  });

  it('refuses a malformed number before asking ServiceNow', async () => {
    for (const bad of ['CHG12', 'chg0030001', 'CHG0030001^ORnumber!=x', 'INC0010001', '']) {
      await expect(tickets().check(bad)).rejects.toBeInstanceOf(InputError);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('retries a failing instance with backoff, then gives up with an UpstreamError', async () => {
    fake.setTicket('CHG0030009', { state: 'Implement', approval: 'approved' });
    fake.failNext(2);
    expect((await tickets().check('CHG0030009')).verdict).toBe('approved');
    expect(fake.requests).toHaveLength(3);

    fake.failNext(10);
    const err = await tickets({ retries: 2 })
      .check('CHG0030009')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).system).toBe('servicenow');
    expect((err as Error).message).toMatch(/HTTP 503/);
    expect(fake.requests).toHaveLength(6);
  });

  it('does not retry refused credentials and never echoes them', async () => {
    fake.setTicket('CHG0030010', { state: 'Implement', approval: 'approved' });
    const err = await tickets({ auth: { user: 'conveyor', password: 'wrong-pw' } })
      .check('CHG0030010')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/401 \(credentials refused\)/);
    expect(JSON.stringify(err) + String(err)).not.toMatch(/wrong-pw|conveyor:/);
    expect(fake.requests).toHaveLength(1);
  });

  it('reports an unreachable instance as UpstreamError', async () => {
    const url = fake.url;
    await fake.close();
    const err = await new ServiceNowTickets({
      baseUrl: url,
      auth: { token: 'tok-123' },
      retries: 1,
      minRetryMs: 5,
    })
      .check('CHG0030011')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/unreachable \(ECONNREFUSED\)/);
    fake = await ServiceNowFake.start();
  });
});
