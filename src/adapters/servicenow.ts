/**
 * ChangeTickets over the ServiceNow Table API (`GET /api/now/table/change_request`), with fetch.
 *
 * Verdicts: `approved` when approval is "approved" and the state is one of `approvedStates`
 * (Scheduled / Implement by default); `rejected` when approval is "rejected" or the state is one
 * of `rejectedStates` (Canceled / Closed by default: a closed change authorises nothing new);
 * `missing` when no change has that number; `pending` otherwise. States are matched against both
 * the value ("-1") and the label ("Implement"), case-insensitively.
 */
import pRetry, { AbortError } from 'p-retry';
import { z } from 'zod';
import { InputError, UpstreamError } from '../core/errors.js';
import { TICKET } from '../core/patterns.js';
import type { ChangeTickets, TicketCheck } from '../core/ports.js';

export const DEFAULT_APPROVED_STATES = ['Scheduled', 'Implement', '-2', '-1'];
export const DEFAULT_REJECTED_STATES = [
  'Canceled',
  'Cancelled',
  'Closed',
  'Closed Incomplete',
  'Closed Skipped',
  '3',
  '4',
];

export interface ServiceNowOptions {
  /** Instance URL, e.g. https://acme.service-now.com (no credentials in it). */
  baseUrl: string;
  auth: { user: string; password: string } | { token: string };
  fetch?: typeof fetch;
  /** Retries on 5xx, 429 and network failures. Default 3. */
  retries?: number;
  /** First backoff delay. Default 500 ms. */
  minRetryMs?: number;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  approvedStates?: string[];
  rejectedStates?: string[];
}

const field = z.union([z.string(), z.object({ value: z.string().nullish(), display_value: z.string().nullish() })]);

const responseSchema = z.object({
  result: z.array(z.object({ number: field.optional(), state: field.optional(), approval: field.optional() }).loose()),
});

type Field = z.infer<typeof field> | undefined;

export class ServiceNowTickets implements ChangeTickets {
  private readonly endpoint: URL;
  private readonly authorization: string;
  private readonly fetch: typeof fetch;
  private readonly approved: Set<string>;
  private readonly rejected: Set<string>;

  constructor(private readonly options: ServiceNowOptions) {
    const base = new URL(options.baseUrl);
    if (base.username || base.password) throw new InputError('the ServiceNow URL must not hold credentials');
    this.endpoint = new URL('api/now/table/change_request', base.href.endsWith('/') ? base : `${base.href}/`);
    const { auth } = options;
    this.authorization =
      'token' in auth
        ? `Bearer ${auth.token}`
        : `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`;
    this.fetch = options.fetch ?? globalThis.fetch;
    const norm = (states: string[]) => new Set(states.map((s) => s.trim().toLowerCase()));
    this.approved = norm(options.approvedStates ?? DEFAULT_APPROVED_STATES);
    this.rejected = norm(options.rejectedStates ?? DEFAULT_REJECTED_STATES);
  }

  async check(number: string): Promise<TicketCheck> {
    if (!TICKET.test(number)) {
      throw new InputError(`"${number.slice(0, 40)}" is not a change ticket number (expected CHG followed by digits)`);
    }
    const rows = await pRetry(() => this.lookup(number), {
      retries: this.options.retries ?? 3,
      minTimeout: this.options.minRetryMs ?? 500,
      maxTimeout: 10_000,
      randomize: true,
    });
    const row = rows.find((r) => text(r.number) === number) ?? rows[0];
    if (!row) return { number, verdict: 'missing', detail: 'no change request with this number' };

    const states = [value(row.state), label(row.state)].map((s) => s.toLowerCase()).filter(Boolean);
    const approval = (value(row.approval) || label(row.approval)).toLowerCase();
    const detail = clean(`state=${label(row.state) || value(row.state)} approval=${approval || 'unknown'}`);
    if (approval === 'rejected' || states.some((s) => this.rejected.has(s))) {
      return { number, verdict: 'rejected', detail };
    }
    if (approval === 'approved' && states.some((s) => this.approved.has(s))) {
      return { number, verdict: 'approved', detail };
    }
    return { number, verdict: 'pending', detail };
  }

  private async lookup(number: string): Promise<z.infer<typeof responseSchema>['result']> {
    const url = new URL(this.endpoint);
    url.searchParams.set('sysparm_query', `number=${number}`);
    url.searchParams.set('sysparm_fields', 'number,state,approval,sys_id,short_description');
    url.searchParams.set('sysparm_display_value', 'all');
    url.searchParams.set('sysparm_exclude_reference_link', 'true');
    url.searchParams.set('sysparm_limit', '1');
    let res: Response;
    try {
      res = await this.fetch(url, {
        headers: { accept: 'application/json', authorization: this.authorization },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const reason = (err as Error)?.name === 'TimeoutError' ? 'timed out' : networkReason(err);
      throw new UpstreamError('servicenow', `ServiceNow is unreachable (${reason}) looking up ${number}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      const err = new UpstreamError(
        'servicenow',
        `ServiceNow answered HTTP ${res.status}${describe(res.status)} looking up ${number}`,
      );
      // Client errors (bad credentials, missing role) do not get better by retrying.
      if (res.status < 500 && res.status !== 429) throw new AbortError(err);
      throw err;
    }
    const parsed = responseSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      throw new AbortError(
        new UpstreamError('servicenow', `ServiceNow sent an unexpected answer looking up ${number}`),
      );
    }
    return parsed.data.result;
  }
}

function value(f: Field): string {
  if (f === undefined) return '';
  return typeof f === 'string' ? f : (f.value ?? '');
}

function label(f: Field): string {
  if (f === undefined) return '';
  return typeof f === 'string' ? f : (f.display_value ?? '');
}

function text(f: Field): string {
  return value(f) || label(f);
}

function describe(status: number): string {
  if (status === 401) return ' (credentials refused)';
  if (status === 403) return ' (the account may not read change_request)';
  if (status === 429) return ' (rate limited)';
  return status >= 500 ? ' (unavailable)' : '';
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code ?? 'network error';
}

/** Remote text into one short, printable line. */
function clean(s: string): string {
  return s.replace(/\p{C}/gu, '?').slice(0, 160);
}
