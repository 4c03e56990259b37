/**
 * A fake ServiceNow Table API for change requests
 * (https://docs.servicenow.com/bundle/latest/page/integrate/inbound-rest/concept/c_TableAPI.html):
 * `GET /api/now/table/change_request?sysparm_query=number=CHG…&sysparm_fields=…&sysparm_limit=…`
 * answers `{ result: [...] }` (an empty list when nothing matches). `sysparm_display_value`
 * `false` (default) gives raw values (state "-1"), `true` display values ("Implement"), `all`
 * both as `{ value, display_value }`. Basic auth or a Bearer token is required; a 401 carries
 * ServiceNow's error body.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** change_request.state choices of a stock instance: value → label. */
export const CHANGE_STATES: Record<string, string> = {
  '-5': 'New',
  '-4': 'Assess',
  '-3': 'Authorize',
  '-2': 'Scheduled',
  '-1': 'Implement',
  '0': 'Review',
  '3': 'Closed',
  '4': 'Canceled',
};

/** change_request.approval choices: value → label. */
export const APPROVALS: Record<string, string> = {
  'not requested': 'Not Yet Requested',
  requested: 'Requested',
  approved: 'Approved',
  rejected: 'Rejected',
};

export interface FakeTicket {
  /** A state label ("Implement") or value ("-1"). */
  state: string;
  /** An approval value ("approved") or label ("Approved"). */
  approval: string;
  short_description?: string;
}

interface StoredTicket {
  sys_id: string;
  number: string;
  state: string;
  approval: string;
  short_description: string;
}

export interface ServiceNowFakeOptions {
  user?: string;
  password?: string;
  token?: string;
}

export class ServiceNowFake {
  /** Requests received (path and query, never credentials). */
  readonly requests: { path: string; query: Record<string, string> }[] = [];
  private readonly server: Server;
  private readonly tickets = new Map<string, StoredTicket>();
  private failures = 0;

  private constructor(private readonly options: ServiceNowFakeOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(
    options: ServiceNowFakeOptions = { user: 'conveyor', password: 'secret' },
  ): Promise<ServiceNowFake> {
    const fake = new ServiceNowFake(options);
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  setTicket(number: string, ticket: FakeTicket): void {
    const state = choiceValue(CHANGE_STATES, ticket.state);
    const approval = choiceValue(APPROVALS, ticket.approval);
    this.tickets.set(number, {
      sys_id: this.tickets.get(number)?.sys_id ?? randomUUID().replaceAll('-', ''),
      number,
      state,
      approval,
      short_description: ticket.short_description ?? `Change ${number}`,
    });
  }

  removeTicket(number: string): void {
    this.tickets.delete(number);
  }

  /** Answer the next `n` requests with 503, as an instance under maintenance does. */
  failNext(n: number): void {
    this.failures = n;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorised(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const { user, password, token } = this.options;
    if (token !== undefined && header === `Bearer ${token}`) return true;
    if (user !== undefined && header.startsWith('Basic ')) {
      return Buffer.from(header.slice(6), 'base64').toString('utf8') === `${user}:${password ?? ''}`;
    }
    return false;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    this.requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    if (this.failures > 0) {
      this.failures -= 1;
      json(res, 503, {
        error: { message: 'Service Unavailable', detail: 'Instance is unavailable' },
        status: 'failure',
      });
      return;
    }
    if (!this.authorised(req)) {
      json(res, 401, {
        error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
        status: 'failure',
      });
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/api/now/table/change_request') {
      json(res, 400, { error: { message: 'Invalid table', detail: null }, status: 'failure' });
      return;
    }
    const p = url.searchParams;
    const number = /^number=([^^]*)$/.exec(p.get('sysparm_query') ?? '')?.[1];
    const limit = Number(p.get('sysparm_limit') ?? '10000');
    const fields = p.get('sysparm_fields')?.split(',').filter(Boolean);
    const display = (p.get('sysparm_display_value') ?? 'false').toLowerCase();
    const found = number !== undefined ? this.tickets.get(number) : undefined;
    const rows = (number !== undefined ? (found ? [found] : []) : [...this.tickets.values()]).slice(0, limit);
    const result = rows.map((t) => {
      const row: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(t)) {
        if (fields && !fields.includes(name)) continue;
        const label = name === 'state' ? CHANGE_STATES[value] : name === 'approval' ? APPROVALS[value] : value;
        row[name] = display === 'true' ? label : display === 'all' ? { display_value: label, value } : value;
      }
      return row;
    });
    json(res, 200, { result });
  }
}

function choiceValue(choices: Record<string, string>, given: string): string {
  if (Object.hasOwn(choices, given)) return given;
  const found = Object.entries(choices).find(([, label]) => label.toLowerCase() === given.toLowerCase());
  if (!found) throw new Error(`unknown choice ${given}`);
  return found[0];
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' }).end(JSON.stringify(body));
}
