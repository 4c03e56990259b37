/** A ChangeTickets port (ServiceNow) answering from a table; unknown tickets are missing. */
import type { ChangeTickets } from '../../src/core/ports.js';

type Check = Awaited<ReturnType<ChangeTickets['check']>>;

export class MemoryTickets implements ChangeTickets {
  readonly asked: string[] = [];
  constructor(private readonly table: Record<string, Check['verdict']> = {}) {}
  set(ticket: string, verdict: Check['verdict']): void {
    this.table[ticket] = verdict;
  }
  async check(ticket: string): Promise<Check> {
    this.asked.push(ticket);
    const verdict = this.table[ticket] ?? 'missing';
    return { number: ticket, verdict, detail: `state ${verdict}` };
  }
}
