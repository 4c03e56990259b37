/** Change tickets (ServiceNow). */
export type TicketVerdict = 'approved' | 'pending' | 'rejected' | 'missing';

export interface TicketCheck {
  number: string;
  verdict: TicketVerdict;
  /** The system's own words, e.g. "state=Implement approval=approved". */
  detail: string;
}

export interface ChangeTickets {
  check(number: string): Promise<TicketCheck>;
}
