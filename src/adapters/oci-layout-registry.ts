/**
 * ImageRegistry over a local OCI image layout (the folder `skopeo copy … oci:<dir>:<tag>` writes:
 * `oci-layout`, `index.json`, `blobs/sha256/…`). One layout holds one image repository; its tags
 * are the `org.opencontainers.image.ref.name` annotations of `index.json`'s manifests.
 *
 * - Tags: read from `index.json`; `changed: false` when the file's bytes are the same as at the
 *   last listing (the layout's equivalent of a 304).
 * - Digests: the index entry's digest (by tag, or by digest when an entry has it).
 * - Provenance: the manifest blob (for an index, its linux/amd64 entry, else its first), then the
 *   config blob's labels; configs cached by digest (blobs are content-addressed).
 *
 * Every blob read is checked against its digest. Errors are UpstreamError naming the layout
 * folder; a missing layout is not a crash.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError, UpstreamError } from '../core/errors.js';
import type { ImageProvenance, ImageRegistry, ManifestHead, TagList } from '../core/ports/image-registry.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const descriptor = z.object({
  mediaType: z.string().optional(),
  digest: z.string().regex(DIGEST),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: z.object({ os: z.string().optional(), architecture: z.string().optional() }).loose().optional(),
});
const indexSchema = z.object({ schemaVersion: z.literal(2), manifests: z.array(descriptor) });
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

type Descriptor = z.infer<typeof descriptor>;

/** The tag a `ref.name` annotation names: `1.4.2`, or the tag of a full reference `host/repo:1.4.2`. */
export function tagOfRefName(name: string): string | null {
  if (TAG.test(name)) return name;
  const m = /^[^@]+\/[^/:@]+:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(name);
  return m?.[1] ?? null;
}

export class OciLayoutRegistry implements ImageRegistry {
  private lastIndex: string | null = null;
  private readonly configs = new Map<string, ImageProvenance>();

  /** @param dir the layout folder (absolute) */
  constructor(private readonly dir: string) {}

  async listTags(_repository: string): Promise<TagList> {
    const { text, entries } = await this.index();
    const tags = [...new Set(entries.flatMap((e) => tagOf(e) ?? []))];
    const changed = text !== this.lastIndex;
    this.lastIndex = text;
    return { tags, changed };
  }

  async headManifest(_repository: string, reference: string): Promise<ManifestHead | null> {
    const entry = await this.find(reference);
    return entry ? { digest: entry.digest, mediaType: entry.mediaType ?? '' } : null;
  }

  async provenance(_repository: string, reference: string): Promise<ImageProvenance | null> {
    const entry = await this.find(reference);
    if (!entry) return null;
    let manifest = manifestSchema.safeParse(await this.blobJson(entry.digest));
    if (!manifest.success) throw this.error(`${entry.digest.slice(0, 19)} is not an image manifest`);
    if (manifest.data.manifests) {
      const list = manifest.data.manifests;
      const pick = list.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? list[0];
      if (!pick) return { labels: {} };
      manifest = manifestSchema.safeParse(await this.blobJson(pick.digest));
      if (!manifest.success) throw this.error(`${pick.digest.slice(0, 19)} is not an image manifest`);
    }
    const config = manifest.data.config;
    if (!config) return { labels: {} };
    const known = this.configs.get(config.digest);
    if (known) return known;
    const parsed = configSchema.safeParse(await this.blobJson(config.digest));
    if (!parsed.success) throw this.error(`${config.digest.slice(0, 19)} is not an image config`);
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

  /** The index entry a tag or digest names (the last one listed for a tag, as skopeo replaces them). */
  private async find(reference: string): Promise<Descriptor | null> {
    if (!DIGEST.test(reference) && !TAG.test(reference)) {
      throw new InputError(`"${reference.slice(0, 80)}" is not a tag or digest`);
    }
    const { entries } = await this.index();
    const match = DIGEST.test(reference)
      ? entries.filter((e) => e.digest === reference)
      : entries.filter((e) => tagOf(e) === reference);
    if (match.length || !DIGEST.test(reference)) return match.at(-1) ?? null;
    // A digest that is not in the index but is a blob of the layout (an image in an index's list).
    const blob = await this.blob(reference).catch(() => null);
    return blob ? { digest: reference } : null;
  }

  private async index(): Promise<{ text: string; entries: Descriptor[] }> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch {
      throw this.error('no index.json (not an OCI image layout)');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.error('index.json is not JSON');
    }
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success) throw this.error('index.json is not an OCI image index');
    return { text, entries: parsed.data.manifests };
  }

  private async blob(digest: string): Promise<Buffer> {
    const hex = digest.slice('sha256:'.length);
    let data: Buffer;
    try {
      data = await readFile(join(this.dir, 'blobs', 'sha256', hex));
    } catch {
      throw this.error(`blob ${digest.slice(0, 19)} is missing`);
    }
    if (createHash('sha256').update(data).digest('hex') !== hex) {
      throw this.error(`blob ${digest.slice(0, 19)} does not match its digest`);
    }
    return data;
  }

  private async blobJson(digest: string): Promise<unknown> {
    const data = await this.blob(digest);
    try {
      return JSON.parse(data.toString('utf8'));
    } catch {
      throw this.error(`blob ${digest.slice(0, 19)} is not JSON`);
    }
  }

  private error(what: string): UpstreamError {
    return new UpstreamError('registry', `OCI layout ${this.dir}: ${what}`);
  }
}

function tagOf(entry: Descriptor): string | null {
  const name = entry.annotations?.[REF_NAME];
  return name ? tagOfRefName(name) : null;
}
