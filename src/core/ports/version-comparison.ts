/**
 * What an image app's two versions are, side by side (`diff`): both image references and, when
 * the images carry `org.opencontainers.image.revision` and `.source`, the application commits
 * between them.
 */
import type { CommitInfo } from './git-host.js';

export interface ImageSide {
  /** `registry.example.com/team/worker:1.3.0@sha256:…` */
  reference: string;
  tag?: string;
  digest?: string;
  /** The image's `org.opencontainers.image.revision` label. */
  revision?: string;
  /** The image's `org.opencontainers.image.source` label. */
  source?: string;
}

export interface VersionComparison {
  /** Null when the older side records no image. */
  from: ImageSide | null;
  to: ImageSide;
  /** Application commits in `to` and not in `from`, newest first (the first few); absent when unknown (see note). */
  commits?: CommitInfo[];
  commitCount?: number;
  /** The application repository the commits were read from. */
  repo?: string;
  /** Why there are no commits: no labels, a repository Conveyor cannot read, … */
  note?: string;
}
