/**
 * The client side of the bot's journal version endpoint, used by `journal-watch`.
 */
import { z } from 'zod';
import { InputError, NotAllowedError, UpstreamError } from '../core/errors.js';

export interface JournalVersionInput {
  version: string;
  cluster: string;
  file: string;
  size: number;
  sha256: string;
  ticket?: string;
  mandators: string[];
  objectKey: string;
  /** ISO 8601 */
  uploadedAt: string;
  /** ISO 8601: when the modelling cluster exported it (sidecar `exportedAt`, else the file's mtime). */
  exportedAt?: string;
}

export interface VersionRegistryClient {
  /** Idempotent by sha256: the same checksum returns the version it already has, created false. */
  register(v: JournalVersionInput): Promise<{ version: string; created: boolean }>;
  /** Versions the endpoint knows for a cluster on a day (`yyyy.mm.dd`). */
  latestForDay?(cluster: string, day: string): Promise<string[]>;
}

const registeredSchema = z.object({ version: z.string(), created: z.boolean() });
const listedSchema = z.union([
  z.array(z.union([z.string(), z.object({ version: z.string() })])),
  z.object({ versions: z.array(z.union([z.string(), z.object({ version: z.string() })])) }),
]);

/**
 * The bot's journal version endpoint: `POST <baseUrl>/api/journal/versions` with the cluster's
 * bearer token (201 `{version, created: true}`, or 200 `{version, created: false}` for a checksum
 * it already has); `GET ...?cluster=&day=` answers `{versions: [{version}...]}`.
 */
export class HttpVersionRegistry implements VersionRegistryClient {
  private readonly url: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: { baseUrl: string; token: string; fetch?: typeof fetch; timeoutMs?: number }) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/api/journal/versions`;
    this.fetchFn = options.fetch ?? fetch;
  }

  async register(v: JournalVersionInput): Promise<{ version: string; created: boolean }> {
    const body = await this.call(this.url, { method: 'POST', body: JSON.stringify(v) });
    const parsed = registeredSchema.safeParse(body);
    if (!parsed.success) throw new UpstreamError('version-endpoint', 'the version endpoint answered without a version');
    return parsed.data;
  }

  async latestForDay(cluster: string, day: string): Promise<string[]> {
    const query = new URLSearchParams({ cluster, day });
    const parsed = listedSchema.safeParse(await this.call(`${this.url}?${query}`, { method: 'GET' }));
    if (!parsed.success) throw new UpstreamError('version-endpoint', 'the version endpoint sent an unexpected list');
    const items = Array.isArray(parsed.data) ? parsed.data : parsed.data.versions;
    return items.map((i) => (typeof i === 'string' ? i : i.version));
  }

  private async call(url: string, init: { method: string; body?: string }): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        ...init,
        headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new UpstreamError('version-endpoint', `version endpoint unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const text = await res.text().catch(() => '');
    if (res.status === 401 || res.status === 403) {
      throw new NotAllowedError(`the version endpoint refused this cluster's token (HTTP ${res.status})`);
    }
    if (res.status >= 500 || res.status === 429) {
      throw new UpstreamError('version-endpoint', `version endpoint failed with HTTP ${res.status}`);
    }
    if (!res.ok)
      throw new InputError(`the version endpoint refused the request (HTTP ${res.status}): ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamError('version-endpoint', 'the version endpoint answered with invalid JSON');
    }
  }
}
