/**
 * Change tickets. `plan`: a required ticket must be given, and where tickets are checked it must
 * be approved in ServiceNow; `advice`: a later step cannot carry one yet, so a stage that
 * requires one stops the advice; `apply`: the ticket may have been withdrawn while the request
 * waited (up to expiresAfter), so it is looked at again right before the first write.
 */
import type { GateConfig } from '../../config/schema.js';
import { NotAllowedError, UpstreamError } from '../errors.js';
import { type GateRule, pass, refuse } from './gate-rule.js';

export interface TicketPolicy {
  mode: 'none' | 'optional' | 'required';
  /** Check the ticket in ServiceNow (at request, and again right before the first write). */
  verify: boolean;
}

/** `changeTicket: required` (verified) or `{ required: true, verify: false }` (recorded, not checked). */
export function ticketPolicy(gate: GateConfig): TicketPolicy {
  const t = gate.changeTicket;
  if (typeof t === 'string') return { mode: t, verify: t !== 'none' };
  return { mode: t.required ? 'required' : 'optional', verify: t.verify };
}

export const changeTicket: GateRule = {
  name: 'change-ticket',
  async check(ctx) {
    if (!ctx.gate) return pass();
    const policy = ticketPolicy(ctx.gate);
    const ticket = ctx.ticket ?? null;
    if (ctx.phase === 'advice') {
      return policy.mode === 'required'
        ? refuse(new NotAllowedError(`${ctx.env} needs a change ticket (--ticket CHG…)`))
        : pass();
    }
    if (ctx.phase === 'apply') {
      if (!ticket || !ctx.tickets || !policy.verify || policy.mode === 'none') return pass();
      const check = await ctx.tickets.check(ticket);
      if (check.verdict === 'approved') return pass();
      return refuse(
        new NotAllowedError(
          `change ticket ${ticket} is no longer approved (${check.verdict}: ${check.detail}); nothing was written`,
        ),
        {
          audit: { action: 'ticket.refused', detail: { ticket, verdict: check.verdict } },
        },
      );
    }
    if (policy.mode === 'required' && !ticket)
      return refuse(new NotAllowedError(`${ctx.env} needs a change ticket: add --ticket CHG…`));
    if (!ticket || policy.mode === 'none' || !policy.verify) return pass();
    // check-config refuses a checked ticket policy without ServiceNow: never accept a ticket unchecked.
    if (!ctx.tickets) {
      return refuse(
        new UpstreamError(
          'servicenow',
          `${ctx.env} checks change tickets in ServiceNow, but no ServiceNow connection is configured`,
        ),
      );
    }
    const check = await ctx.tickets.check(ticket);
    if (check.verdict === 'approved') return pass();
    return refuse(
      new NotAllowedError(
        `change ticket ${ticket} is ${check.verdict} (${check.detail}); ${ctx.env} needs an approved ticket`,
      ),
    );
  },
};
