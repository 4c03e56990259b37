/**
 * The registry discovery, composed: one OCI client per image app (base URL from
 * `image.registryUrl` or https://<host>, credentials from the variables it names), the app's
 * ImageEnvHost as its environments, the store's idempotency keys, the notifier; and the
 * `POST /hooks/registry` route when REGISTRY_WEBHOOK_TOKEN is set.
 */
import type { Logger } from 'pino';
import { ImageEnvHost } from '../adapters/image-env-host.js';
import { OciRegistry } from '../adapters/oci-registry.js';
import { duration } from '../config/schema.js';
import { readRegistryCredentials } from '../config/strategy-schema.js';
import { type DiscoveryApp, ImageDiscovery, type LookResult } from '../controller/image-discovery.js';
import type { IdempotencyStore, ImageRegistry } from '../core/ports.js';
import type { Runtime } from '../core/runtime.js';
import type { HttpServer } from '../server/http-server.js';
import { mountRegistryWebhook } from '../server/registry-webhook.js';

export interface DiscoveryInput {
  runtime: Runtime & { store: Pick<IdempotencyStore, 'claimKey' | 'forgetKey'> };
  http?: HttpServer;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  webhookToken?: string;
  onDeployed?(app: string, result: LookResult): void;
  leading?: () => boolean;
}

/** Null when no app uses the image strategy. */
export function buildImageDiscovery(input: DiscoveryInput): ImageDiscovery | null {
  const { runtime, log } = input;
  const first = runtime.config.environments[0];
  const imageApps = runtime.config.apps.filter((a) => a.strategy === 'image' && a.image);
  if (!first || !imageApps.length) {
    // No image app: a push names nothing to look at, but a configured route still answers (202, none).
    if (input.http && input.webhookToken)
      mountRegistryWebhook(input.http, {
        token: input.webhookToken,
        target: { appsFor: () => [], look: async () => null },
        log,
      });
    return null;
  }
  const registries = new Map<string, ImageRegistry>();
  const apps: DiscoveryApp[] = [];
  for (const app of imageApps) {
    const image = app.image!; // filtered above
    const slash = image.repository.indexOf('/');
    const host = image.repository.slice(0, slash);
    // A local OCI layout (image.layout) is read through the app's host, which resolved its folder.
    const local = runtime.git.get(app.name);
    registries.set(
      app.name,
      image.layout && local instanceof ImageEnvHost && local.imageSource
        ? local.imageSource.registry()
        : new OciRegistry({
            baseUrl: image.registryUrl ?? `https://${host}`,
            credentials: readRegistryCredentials(image, input.env),
          }),
    );
    apps.push({
      name: app.name,
      repository: image.repository.slice(slash + 1),
      display: image.repository,
      policy: image.policy,
      firstEnv: first.name,
      ...(first.channel ? { channel: first.channel } : {}),
      pollMs: duration.parse(image.pollInterval),
    });
  }
  const discovery = new ImageDiscovery({
    apps,
    registryOf: (name) => registries.get(name)!,
    environmentsOf: (name) => {
      const host = runtime.git.get(name);
      if (!(host instanceof ImageEnvHost)) throw new Error(`${name} is not connected to its GitOps repository`);
      return host;
    },
    idempotency: runtime.store,
    ...(runtime.notifier ? { notifier: runtime.notifier } : {}),
    log: log.child({ component: 'image-discovery' }),
    ...(input.onDeployed ? { onDeployed: input.onDeployed } : {}),
    ...(input.leading ? { leading: input.leading } : {}),
  });
  if (input.http && input.webhookToken) {
    mountRegistryWebhook(input.http, { token: input.webhookToken, target: discovery, log });
  }
  return discovery;
}
