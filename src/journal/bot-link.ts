/**
 * How journal-watch and journal-agent reach the bot (serve): its base URL and the bearer token
 * they present. The token is read again when the bot answers 401 — from JOURNAL_TOKEN_FILE
 * (a mounted Secret that Kubernetes refreshes in place) or, in the sandbox, from the running
 * serve's serve.json — so a worker keeps working across a token rotation or a serve restart.
 */
import { readFileSync } from 'node:fs';
import type { ResolvedConfig } from '../cli-config.js';
import { readSecrets } from '../config/secrets.js';
import { ConfigError, NotAllowedError, UpstreamError } from '../core/errors.js';
import { readServeInfo } from '../server/serve-info.js';

export class BotLink {
  private token: string;
  /** Bot calls by outcome, for the worker's /metrics and /readyz. */
  onResult: (result: 'ok' | 'unauthorized' | 'error') => void = () => {};

  private constructor(
    readonly baseUrl: string,
    private readonly readToken: () => string | undefined,
  ) {
    const token = readToken();
    if (!token) throw new ConfigError('no token to present to the bot');
    this.token = token;
  }

  static fromConfig(resolved: ResolvedConfig, env: NodeJS.ProcessEnv): BotLink {
    const configured = resolved.config.journal?.botUrl;
    const fromEnv = () => readSecrets(env).JOURNAL_TOKEN;
    if (configured) {
      if (!fromEnv()) throw new ConfigError('journal.botUrl is set but JOURNAL_TOKEN (or JOURNAL_TOKEN_FILE) is not');
      return new BotLink(configured.replace(/\/+$/, ''), fromEnv);
    }
    const local = readServeInfo(resolved.serveInfoFile);
    if (!local)
      throw new UpstreamError(
        'conveyor',
        'no Conveyor serve is running here: start it with "npm start" (or set journal.botUrl)',
      );
    const fromServe = () => {
      try {
        return (JSON.parse(readFileSync(resolved.serveInfoFile, 'utf8')) as { token?: string }).token;
      } catch {
        return undefined;
      }
    };
    return new BotLink(`http://127.0.0.1:${local.port}`, () => fromEnv() ?? fromServe());
  }

  /** The token to present now. */
  currentToken(): string {
    return this.token;
  }

  /** Read the token again; true when it changed. */
  reload(): boolean {
    const next = this.readToken();
    if (!next || next === this.token) return false;
    this.token = next;
    return true;
  }

  /** fetch with the bearer token; on 401 the token is read again and the call retried once. */
  readonly fetch: typeof fetch = async (input, init) => {
    const attempt = (token: string) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    };
    let res: Response;
    try {
      res = await attempt(this.token);
      if (res.status === 401 && this.reload()) res = await attempt(this.token);
    } catch (err) {
      this.onResult('error');
      throw err;
    }
    this.onResult(res.status === 401 || res.status === 403 ? 'unauthorized' : res.ok ? 'ok' : 'error');
    return res;
  };

  /** A JSON call to the bot; refusals and failures become the matching Conveyor errors. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new UpstreamError('conveyor', `the bot is unreachable (${(err as Error).message})`);
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403)
      throw new NotAllowedError(`the bot refused this token (HTTP ${res.status})`);
    if (!res.ok) throw new UpstreamError('conveyor', `the bot answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : null;
  }
}
