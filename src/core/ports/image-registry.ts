/**
 * A container registry speaking the OCI Distribution API (Docker Hub, GHCR, Harbor, the CNCF
 * distribution server, …). Read-only: Conveyor discovers images, it never pushes them.
 */

/** What the image's config says about where it came from (OCI annotations / labels). */
export interface ImageProvenance {
  /** `org.opencontainers.image.revision`: the application commit the image was built from. */
  revision?: string;
  /** `org.opencontainers.image.source`: the application repository's URL. */
  source?: string;
  /** The config's `created` (ISO 8601), else `org.opencontainers.image.created`. */
  created?: string;
  /** Every label of the config, for display. */
  labels: Record<string, string>;
}

export interface ManifestHead {
  /** `sha256:…` of the manifest (or index) the reference names. */
  digest: string;
  mediaType: string;
}

export interface TagList {
  tags: string[];
  /** False when the registry said nothing changed since the last listing (304 to our ETag). */
  changed: boolean;
}

export interface ImageRegistry {
  /** Every tag of a repository, following `Link` pagination. */
  listTags(repository: string): Promise<TagList>;
  /** The digest a tag (or digest) resolves to, without downloading the manifest; null when absent. */
  headManifest(repository: string, reference: string): Promise<ManifestHead | null>;
  /** The image config's labels and creation time; null when the reference does not exist. */
  provenance(repository: string, reference: string): Promise<ImageProvenance | null>;
}

/** An image app's environments as the registry discovery moves them (the first one only). */
export interface ImageEnvironments {
  /** The version the environment's GitOps file names now (fetched first); null when it names none. */
  currentVersion(env: string): Promise<{ tag?: string; digest?: string } | null>;
  /**
   * Write `version` into the environment's GitOps file (one commit touching only the image
   * field), record it with a deploy tag of kind `discovered`; `written: false` when the file named
   * it already.
   */
  deploy(env: string, version: { tag?: string; digest?: string }, message: string): Promise<{ written: boolean }>;
}
