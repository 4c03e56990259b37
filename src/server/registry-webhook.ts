/**
 * `POST /hooks/registry`: a registry says an image was pushed, so the discovery looks at once
 * (it reads the registry itself; the payload only says which repository to look at).
 *
 * Accepted bodies (JSON):
 * - generic: `{ "repository": "registry.example.com/team/worker", "tag": "1.4.2", "digest": "sha256:…" }`
 *   (`tag` and `digest` optional; `repository` with or without the registry host)
 * - Harbor: `{ "type": "PUSH_ARTIFACT", "event_data": { "repository": { "repo_full_name": "team/worker" }, "resources": [{ "tag": "1.4.2", "digest": "sha256:…" }] } }`
 * - Docker Hub: `{ "push_data": { "tag": "1.4.2" }, "repository": { "repo_name": "acme/worker" } }`
 *
 * Authentication: the token in REGISTRY_WEBHOOK_TOKEN, as `Authorization: Bearer <token>`, as the
 * whole `Authorization` header (Harbor's "auth header" setting), or as `?token=` (Docker Hub can
 * send no header). Without a configured token the route is not mounted.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { HttpServer } from './http-server.js';
import { httpError, readJson, sendJson } from './http-server.js';

export interface RegistryPush {
  repository: string;
  tag?: string;
  digest?: string;
}

export const registryGenericBody = z.object({
  repository: z.string().min(1).max(300),
  tag: z.string().max(128).optional(),
  digest: z.string().max(80).optional(),
});
export const registryHarborBody = z.object({
  type: z.string(),
  event_data: z.object({
    repository: z.object({ repo_full_name: z.string().min(1).max(300) }).loose(),
    resources: z
      .array(z.object({ tag: z.string().max(128).optional(), digest: z.string().max(80).optional() }).loose())
      .max(100)
      .default([]),
  }),
});
export const registryDockerHubBody = z.object({
  push_data: z.object({ tag: z.string().max(128).optional() }).loose(),
  repository: z.object({ repo_name: z.string().min(1).max(300) }).loose(),
});

/** The pushes a body describes; null when it is none of the known shapes. */
export function parseRegistryPush(body: unknown): RegistryPush[] | null {
  const h = registryHarborBody.safeParse(body);
  if (h.success) {
    if (!/PUSH/i.test(h.data.type)) return [];
    const repository = h.data.event_data.repository.repo_full_name;
    const resources = h.data.event_data.resources.length ? h.data.event_data.resources : [{}];
    return resources.map((r) => clean({ repository, tag: r.tag, digest: r.digest }));
  }
  const d = registryDockerHubBody.safeParse(body);
  if (d.success) return [clean({ repository: d.data.repository.repo_name, tag: d.data.push_data.tag })];
  const g = registryGenericBody.safeParse(body);
  if (g.success) return [clean(g.data)];
  return null;
}

function clean(p: { repository: string; tag?: string | undefined; digest?: string | undefined }): RegistryPush {
  const out: RegistryPush = { repository: p.repository.replace(/^[a-z]+:\/\//, '') };
  if (p.tag) out.tag = p.tag;
  if (p.digest) out.digest = p.digest;
  return out;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface RegistryHookTarget {
  /** The apps an image repository belongs to (by its path, or host/path). */
  appsFor(repository: string): { name: string }[];
  look(app: string): Promise<unknown>;
}

export function mountRegistryWebhook(
  http: HttpServer,
  options: { token: string; target: RegistryHookTarget; log: { warn(obj: object, msg: string): void } },
): void {
  http.add('POST', '/hooks/registry', async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const header = req.headers.authorization ?? '';
    const given = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? (header || url.searchParams.get('token') || '');
    if (!given || !same(given, options.token)) throw httpError(401, 'registry webhook: missing or wrong token');
    const pushes = parseRegistryPush(await readJson(req, 256 * 1024));
    if (!pushes) {
      throw httpError(400, 'registry webhook: not a generic, Harbor or Docker Hub push payload (see the README)');
    }
    const apps = new Set<string>();
    for (const push of pushes) {
      const path = push.repository.includes('/') ? push.repository : `library/${push.repository}`;
      for (const app of [...options.target.appsFor(push.repository), ...options.target.appsFor(path)]) {
        apps.add(app.name);
      }
    }
    for (const app of apps) {
      options.target.look(app).catch((err: unknown) => {
        options.log.warn(
          { app, err: err instanceof Error ? err.message : 'error' },
          'registry look after a webhook failed',
        );
      });
    }
    sendJson(res, 202, { looking: [...apps] });
  });
}
