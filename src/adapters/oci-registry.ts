/**
 * ImageRegistry over the OCI Distribution API v2, with fetch.
 *
 * - Tags: `GET /v2/<name>/tags/list?n=…`, following `Link: <…>; rel="next"` (bounded).
 * - Digests: `HEAD /v2/<name>/manifests/<ref>` with the OCI and Docker v2 manifest and index media
 *   types in `Accept`; the digest is `Docker-Content-Digest`.
 * - Provenance: the manifest (for an index, its first linux/amd64 entry, else its first), then the
 *   config blob's labels. Blobs are content-addressed, so configs are cached by digest for good.
 * - Auth: anonymous first; on 401 `WWW-Authenticate: Bearer realm=…,service=…,scope=…` a token is
 *   fetched from the realm (with basic credentials when configured) and cached per scope until it
 *   expires; on 401 `Basic` the configured credentials are sent.
 * - Conditional requests: the last ETag of each tags listing and manifest HEAD is sent back as
 *   `If-None-Match`; a 304 answers from the cache.
 * - Backoff: p-retry on network errors, 429 and 5xx (honouring `Retry-After` up to the max delay);
 *   other 4xx are not retried.
 *
 * Errors are UpstreamError with the registry host and repository, never a credential or token.
 */
import pRetry, { AbortError } from 'p-retry';
import { z } from 'zod';
import { InputError, UpstreamError } from '../core/errors.js';
import type { ImageProvenance, ImageRegistry, ManifestHead, TagList } from '../core/ports/image-registry.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const MANIFEST_ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(', ');

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface OciRegistryOptions {
  /** `https://registry.example.com` (or `http://127.0.0.1:5000` for a local registry). No credentials in it. */
  baseUrl: string;
  credentials?: RegistryCredentials;
  fetch?: typeof fetch;
  /** Retries on network errors, 429 and 5xx. Default 4. */
  retries?: number;
  /** First backoff delay. Default 250 ms. */
  minRetryMs?: number;
  /** Longest backoff delay (also caps Retry-After). Default 10 s. */
  maxRetryMs?: number;
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number;
  /** Page size asked of the tags listing. Default 100. */
  pageSize?: number;
  /** Most pages followed in one listing. Default 200. */
  maxPages?: number;
  now?: () => number;
}

const tagsSchema = z.object({ name: z.string().optional(), tags: z.array(z.string()).nullable().optional() });
const descriptor = z.object({
  mediaType: z.string().optional(),
  digest: z.string(),
  platform: z.object({ os: z.string().optional(), architecture: z.string().optional() }).loose().optional(),
});
const manifestSchema = z.object({
  mediaType: z.string().optional(),
  config: descriptor.optional(),
  manifests: z.array(descriptor).optional(),
});
const configSchema = z.object({
  created: z.string().optional(),
  config: z
    .object({ Labels: z.record(z.string(), z.string()).nullable().optional() })
    .loose()
    .optional(),
});
const tokenSchema = z.object({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
});

interface Cached<T> {
  etag: string;
  value: T;
}

export class OciRegistry implements ImageRegistry {
  private readonly base: URL;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  /** Bearer tokens by scope. */
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  /** The auth scheme the registry asked for, by repository. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly etags = new Map<string, Cached<unknown>>();
  private readonly configs = new Map<string, ImageProvenance>();

  constructor(private readonly options: OciRegistryOptions) {
    const base = new URL(options.baseUrl);
    if (base.username || base.password) throw new InputError('the registry URL must not hold credentials');
    this.base = new URL('/', base);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  get host(): string {
    return this.base.host;
  }

  async listTags(repository: string): Promise<TagList> {
    checkName(repository);
    const first = new URL(`/v2/${repository}/tags/list`, this.base);
    first.searchParams.set('n', String(this.options.pageSize ?? 100));
    const cacheKey = `tags ${repository}`;
    const cached = this.etags.get(cacheKey) as Cached<string[]> | undefined;
    const tags: string[] = [];
    let url: URL | null = first;
    for (let page = 0; url; page++) {
      if (page >= (this.options.maxPages ?? 200)) {
        throw new UpstreamError('registry', `${this.where(repository)}: the tag listing has more than ${page} pages`);
      }
      const etag = page === 0 ? cached?.etag : undefined;
      const res = await this.request(repository, 'GET', url, { accept: 'application/json' }, etag);
      if (res.status === 304 && cached) return { tags: [...cached.value], changed: false };
      if (res.status === 404) {
        await res.body?.cancel();
        throw new UpstreamError('registry', `${this.where(repository)}: no such repository`);
      }
      const parsed = tagsSchema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success) throw new UpstreamError('registry', `${this.where(repository)}: unexpected tag listing`);
      tags.push(...(parsed.data.tags ?? []));
      if (page === 0) {
        const tag = res.headers.get('etag');
        if (tag) this.etags.set(cacheKey, { etag: tag, value: tags });
        else this.etags.delete(cacheKey);
      }
      url = nextLink(res.headers.get('link'), url);
    }
    return { tags: [...tags], changed: true };
  }

  async headManifest(repository: string, reference: string): Promise<ManifestHead | null> {
    checkName(repository);
    checkReference(reference);
    const url = new URL(`/v2/${repository}/manifests/${reference}`, this.base);
    const cacheKey = `head ${repository}:${reference}`;
    const cached = this.etags.get(cacheKey) as Cached<ManifestHead> | undefined;
    const res = await this.request(repository, 'HEAD', url, { accept: MANIFEST_ACCEPT }, cached?.etag);
    await res.body?.cancel();
    if (res.status === 304 && cached) return cached.value;
    if (res.status === 404) return null;
    const digest = res.headers.get('docker-content-digest') ?? (reference.startsWith('sha256:') ? reference : null);
    if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new UpstreamError('registry', `${this.where(repository)}: no digest for ${reference}`);
    }
    const head = { digest, mediaType: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '' };
    const etag = res.headers.get('etag');
    if (etag) this.etags.set(cacheKey, { etag, value: head });
    return head;
  }

  async provenance(repository: string, reference: string): Promise<ImageProvenance | null> {
    checkName(repository);
    checkReference(reference);
    let manifest = await this.manifest(repository, reference);
    if (!manifest) return null;
    if (manifest.manifests) {
      const pick =
        manifest.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
        manifest.manifests[0];
      if (!pick) return { labels: {} };
      manifest = await this.manifest(repository, pick.digest);
      if (!manifest) return null;
    }
    const config = manifest.config;
    if (!config) return { labels: {} };
    const known = this.configs.get(config.digest);
    if (known) return known;
    const res = await this.request(repository, 'GET', new URL(`/v2/${repository}/blobs/${config.digest}`, this.base), {
      accept: config.mediaType ?? 'application/json',
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    const parsed = configSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new UpstreamError('registry', `${this.where(repository)}: unexpected image config`);
    const labels = parsed.data.config?.Labels ?? {};
    const found: ImageProvenance = { labels };
    const revision = labels['org.opencontainers.image.revision'];
    const source = labels['org.opencontainers.image.source'];
    const created = parsed.data.created ?? labels['org.opencontainers.image.created'];
    if (revision) found.revision = revision;
    if (source) found.source = source;
    if (created) found.created = created;
    this.configs.set(config.digest, found);
    return found;
  }

  private async manifest(repository: string, reference: string): Promise<z.infer<typeof manifestSchema> | null> {
    const url = new URL(`/v2/${repository}/manifests/${reference}`, this.base);
    const res = await this.request(repository, 'GET', url, { accept: MANIFEST_ACCEPT });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    const parsed = manifestSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new UpstreamError('registry', `${this.where(repository)}: unexpected manifest`);
    return parsed.data;
  }

  /**
   * One request with auth and backoff. Answers 2xx, 304 and 404 to the caller; throws
   * UpstreamError on anything else (retrying 429, 5xx and network failures first).
   */
  private async request(
    repository: string,
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    etag?: string,
  ): Promise<Response> {
    return pRetry(
      async () => {
        let res = await this.send(repository, method, url, headers, etag);
        if (res.status === 401) {
          const challenge = parseChallenge(res.headers.get('www-authenticate'));
          await res.body?.cancel();
          if (!challenge) throw new AbortError(this.refused(repository, 401));
          this.challenges.set(repository, challenge);
          if (challenge.scheme === 'bearer') await this.fetchToken(repository, challenge, true);
          res = await this.send(repository, method, url, headers, etag);
          if (res.status === 401) {
            await res.body?.cancel();
            throw new AbortError(this.refused(repository, 401));
          }
        }
        if (res.ok || res.status === 304 || res.status === 404) return res;
        await res.body?.cancel();
        const err = this.refused(repository, res.status);
        if (res.status === 429 || res.status >= 500) {
          const wait = retryAfterMs(res.headers.get('retry-after'));
          if (wait > 0) await sleep(Math.min(wait, this.options.maxRetryMs ?? 10_000));
          throw err;
        }
        throw new AbortError(err);
      },
      {
        retries: this.options.retries ?? 4,
        minTimeout: this.options.minRetryMs ?? 250,
        maxTimeout: this.options.maxRetryMs ?? 10_000,
        randomize: true,
      },
    );
  }

  private async send(
    repository: string,
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    etag?: string,
  ): Promise<Response> {
    const all: Record<string, string> = { ...headers };
    if (etag) all['if-none-match'] = etag;
    const challenge = this.challenges.get(repository);
    if (challenge?.scheme === 'basic' && this.options.credentials) all.authorization = basic(this.options.credentials);
    if (challenge?.scheme === 'bearer')
      all.authorization = `Bearer ${await this.fetchToken(repository, challenge, false)}`;
    try {
      return await this.fetch(url, {
        method,
        headers: all,
        redirect: 'follow',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (err) {
      const reason = (err as Error)?.name === 'TimeoutError' ? 'timed out' : networkReason(err);
      throw new UpstreamError('registry', `${this.where(repository)}: registry unreachable (${reason})`);
    }
  }

  /** A bearer token for the challenge's scope (cached until shortly before it expires). */
  private async fetchToken(repository: string, challenge: BearerChallenge, fresh: boolean): Promise<string> {
    const scope = challenge.scope ?? `repository:${repository}:pull`;
    const key = `${challenge.realm} ${challenge.service ?? ''} ${scope}`;
    const known = this.tokens.get(key);
    if (!fresh && known && known.expires > this.now()) return known.token;
    const realm = new URL(challenge.realm);
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.credentials) headers.authorization = basic(this.options.credentials);
    let res: Response;
    try {
      res = await this.fetch(realm, { headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000) });
    } catch (err) {
      throw new UpstreamError(
        'registry',
        `${this.where(repository)}: token service unreachable (${networkReason(err)})`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      const err = new UpstreamError(
        'registry',
        `${this.where(repository)}: the token service answered HTTP ${res.status}${res.status === 401 ? ' (credentials refused)' : ''}`,
      );
      if (res.status === 429 || res.status >= 500) throw err;
      throw new AbortError(err);
    }
    const parsed = tokenSchema.safeParse(await res.json().catch(() => undefined));
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!token)
      throw new AbortError(new UpstreamError('registry', `${this.where(repository)}: the token service sent no token`));
    // Docker's token spec: 60 s when the service does not say; renew 10 s early.
    const life = Math.max(1, (parsed.success ? parsed.data.expires_in : undefined) ?? 60);
    this.tokens.set(key, { token, expires: this.now() + Math.max(0, life - 10) * 1000 });
    return token;
  }

  private refused(repository: string, status: number): UpstreamError {
    const why =
      status === 401
        ? ' (credentials refused or missing)'
        : status === 403
          ? ' (not allowed to pull)'
          : status === 429
            ? ' (rate limited)'
            : status >= 500
              ? ' (unavailable)'
              : '';
    return new UpstreamError('registry', `${this.where(repository)}: registry answered HTTP ${status}${why}`);
  }

  private where(repository: string): string {
    return `${this.base.host}/${repository}`;
  }
}

type BearerChallenge = { scheme: 'bearer'; realm: string; service?: string; scope?: string };
type Challenge = BearerChallenge | { scheme: 'basic' };

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`; null for anything else. */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const scheme = m[1]?.toLowerCase();
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme !== 'bearer') return null;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    const key = p[1]?.toLowerCase();
    if (key) params[key] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  if (!params.realm) return null;
  try {
    const realm = new URL(params.realm);
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') return null;
  } catch {
    return null;
  }
  const out: BearerChallenge = { scheme: 'bearer', realm: params.realm };
  if (params.service) out.service = params.service;
  if (params.scope) out.scope = params.scope;
  return out;
}

/** The `rel="next"` target of a Link header, resolved against the page's URL; null when none. */
export function nextLink(header: string | null, current: URL): URL | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel="?next"?/i.test(m[2] ?? '')) {
      const next = new URL(m[1] ?? '', current);
      // Never follow a listing to another host (it would get our token).
      return next.host === current.host ? next : null;
    }
  }
  return null;
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REFERENCE = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64})$/;

function checkName(repository: string): void {
  if (!NAME.test(repository) || repository.length > 255) {
    throw new InputError(`"${repository.slice(0, 80)}" is not a repository name`);
  }
}

function checkReference(reference: string): void {
  if (!REFERENCE.test(reference)) throw new InputError(`"${reference.slice(0, 80)}" is not a tag or digest`);
}

function basic(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code ?? 'network error';
}
