import { describe, expect, it } from 'vitest';
import { NotAllowedError, UpstreamError } from '../../../src/core/errors.js';
import { changeTicket, ticketPolicy } from '../../../src/core/gates/change-ticket.js';
import { MemoryTickets } from '../../fakes/memory-tickets.js';
import { gateConfig, gateCtx } from './gate-fixture.js';

const required = gateConfig({ changeTicket: 'required' });
const reason = async (...args: Parameters<typeof gateCtx>) => {
  const v = await changeTicket.check(gateCtx(...args));
  return v.verdict === 'refuse' ? v.reason : v.verdict;
};

describe('gate rule: change ticket', () => {
  it('reads the policy: a string (verified) or { required, verify }', () => {
    expect(ticketPolicy(gateConfig())).toEqual({ mode: 'none', verify: false });
    expect(ticketPolicy(required)).toEqual({ mode: 'required', verify: true });
    expect(ticketPolicy(gateConfig({ changeTicket: { required: true, verify: false } as never }))).toEqual({
      mode: 'required',
      verify: false,
    });
  });

  it('plan: a required ticket must be given, and be approved in ServiceNow', async () => {
    const tickets = new MemoryTickets({ CHG0001: 'approved', CHG0002: 'pending' });
    expect(await reason('plan', { gate: required, tickets })).toBe('prod needs a change ticket: add --ticket CHG…');
    expect(await reason('plan', { gate: required, tickets, ticket: 'CHG0001' })).toBe('pass');
    expect(await reason('plan', { gate: required, tickets, ticket: 'CHG0002' })).toBe(
      'change ticket CHG0002 is pending (state pending); prod needs an approved ticket',
    );
    const v = await changeTicket.check(gateCtx('plan', { gate: required, tickets, ticket: 'CHG0009' }));
    expect(v.verdict === 'refuse' && v.error).toBeInstanceOf(NotAllowedError);
  });

  it('plan: a checked ticket without ServiceNow is an upstream error, never accepted unchecked', async () => {
    const v = await changeTicket.check(gateCtx('plan', { gate: required, tickets: null, ticket: 'CHG0001' }));
    expect(v.verdict === 'refuse' && v.error).toBeInstanceOf(UpstreamError);
    expect(v.verdict === 'refuse' && v.reason).toBe(
      'prod checks change tickets in ServiceNow, but no ServiceNow connection is configured',
    );
  });

  it('plan: a recorded-only ticket is not checked', async () => {
    const tickets = new MemoryTickets();
    expect(
      await reason('plan', {
        gate: gateConfig({ changeTicket: { required: true, verify: false } as never }),
        tickets,
        ticket: 'CHG0003',
      }),
    ).toBe('pass');
    expect(tickets.asked).toEqual([]);
  });

  it('advice: a stage that requires a ticket stops the advice', async () => {
    expect(await reason('advice', { gate: required })).toBe('prod needs a change ticket (--ticket CHG…)');
    expect(await reason('advice', { gate: gateConfig({ changeTicket: 'optional' }) })).toBe('pass');
  });

  it('apply: a ticket withdrawn while the request waited fails it, with an audit line', async () => {
    const tickets = new MemoryTickets({ CHG0001: 'approved' });
    expect(await reason('apply', { gate: required, tickets, ticket: 'CHG0001' })).toBe('pass');
    tickets.set('CHG0001', 'rejected');
    const v = await changeTicket.check(gateCtx('apply', { gate: required, tickets, ticket: 'CHG0001' }));
    expect(v.verdict === 'refuse' && v.reason).toBe(
      'change ticket CHG0001 is no longer approved (rejected: state rejected); nothing was written',
    );
    expect(v.verdict === 'refuse' && v.audit).toEqual({
      action: 'ticket.refused',
      detail: { ticket: 'CHG0001', verdict: 'rejected' },
    });
    expect(await reason('apply', { gate: required, tickets: null, ticket: 'CHG0001' })).toBe('pass');
  });
});
