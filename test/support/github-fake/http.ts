/** The GitHub fake's REST plumbing: replies, errors, route matching and request bodies. */
import type { IncomingMessage } from 'node:http';
import type { GitHubFake } from './server.js';
import type { RepoState } from './state.js';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Does not consume rate limit (auth failures, injected faults, /rate_limit). */
  free?: boolean;
}
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
/** A request as a handler sees it; `P` names the path parameters its route's pattern has. */
export interface Ctx<P extends string = never> {
  params: Record<P, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  repo: RepoState;
}
export type Handler<P extends string = never> = (fake: GitHubFake, ctx: Ctx<P>) => Promise<Reply>;

/** The names of the `:name` and `*name` segments of a route pattern. */
export type ParamsOf<T extends string> = T extends `${infer Head}/${infer Tail}`
  ? ParamsOf<Head> | ParamsOf<Tail>
  : T extends `:${infer Name}` | `*${infer Name}`
    ? Name
    : never;
export type Route = [method: string, pattern: string, handler: Handler<string>];

/** A route whose handler may read exactly the parameters its pattern names. */
export function route<T extends string>(method: string, pattern: T, handler: Handler<ParamsOf<T>>): Route {
  // match(pattern) fills every parameter the pattern names
  return [method, pattern, (fake, ctx) => handler(fake, ctx as Ctx<ParamsOf<T>>)];
}

/** Path parameters of `pattern` (`:name` one segment, `*name` the rest) in `segments`, or null. */
export function match(pattern: string, segments: string[]): Record<string, string> | null {
  const parts = pattern.split('/').slice(1);
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i];
    if (segment === undefined) return null;
    if (part.startsWith('*')) {
      params[part.slice(1)] = segments.slice(i).join('/');
      return params;
    }
    if (part.startsWith(':')) params[part.slice(1)] = segment;
    else if (part !== segment) return null;
  }
  return parts.length === segments.length ? params : null;
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'Problems parsing JSON');
  }
}

export const str = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || v === '') {
    throw new HttpError(422, 'Invalid request.', {
      errors: [{ resource: 'Request', field, code: 'missing_field' }],
    });
  }
  return v;
};
export const notFound = () => new HttpError(404, 'Not Found');
export const ok = (body: unknown, status = 200): Reply => ({ status, body });
