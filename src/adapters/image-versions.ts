/**
 * What an image app's versions are, for people: both image references with the revision each
 * was built from (`org.opencontainers.image.revision` / `.source`, read from the registry or the
 * OCI layout), the application commits between the two revisions (from the application
 * repository, read through its own mirror), and the GitOps file and field a write changes.
 *
 * Nothing here is needed to promote: a registry or application repository that cannot be read
 * turns into a note, never an error.
 */
import type { AppConfig } from '../config/schema.js';
import { isConveyorError } from '../core/errors.js';
import { gitopsTarget } from '../core/images/gitops-target.js';
import { type ImageVersion, sameVersion } from '../core/images/image-ref.js';
import type { GitHost, ImageProvenance, ImageRegistry, ImageSide, VersionComparison } from '../core/ports.js';

const MAX_COMMITS = 30;
/** The application repository is fetched again when its copy is older than this. */
const APP_REPO_FRESH_MS = 30_000;

export interface ImageSource {
  /** The registry (or OCI layout), built on first use; it may throw (credentials not set). */
  registry: () => ImageRegistry;
  /** The application repository's reads, built on first use; null when Conveyor cannot read it. */
  appRepo: () => Promise<{ host: GitHost; name: string } | null>;
}

export class ImageVersions {
  private registry: ImageRegistry | null = null;
  private appRepo: Promise<{ host: GitHost; name: string } | null> | null = null;
  private appSyncedAt = 0;

  constructor(
    private readonly app: AppConfig,
    private readonly source: ImageSource | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** `registry.example.com/team/worker:1.3.0@sha256:…` */
  reference(v: ImageVersion): string {
    const name = this.app.image?.repository ?? this.app.name;
    return `${name}${v.tag ? `:${v.tag}` : ''}${v.digest ? `@${v.digest}` : ''}`;
  }

  async compare(from: ImageVersion | null, to: ImageVersion): Promise<VersionComparison> {
    const [fromSide, toSide] = [from ? this.side(from) : null, this.side(to)];
    const out: VersionComparison = { from: fromSide, to: toSide };
    let found: [ImageProvenance | null, ImageProvenance | null];
    try {
      found = await Promise.all([from ? this.provenance(from) : null, this.provenance(to)]);
    } catch (err) {
      out.note = `cannot read the images' labels (${reason(err)})`;
      return out;
    }
    for (const [s, p] of [
      [fromSide, found[0]],
      [toSide, found[1]],
    ] as const) {
      if (s && p?.revision) s.revision = p.revision;
      if (s && p?.source) s.source = p.source;
    }
    if (!from || !fromSide) return out;
    if (!fromSide.revision || !toSide.revision) {
      const which = [!toSide.revision && this.label(to), !fromSide.revision && this.label(from)].filter(Boolean);
      out.note = `${which.join(' and ')} carr${which.length > 1 ? 'y' : 'ies'} no org.opencontainers.image.revision label`;
      return out;
    }
    if (fromSide.revision === toSide.revision) {
      out.commits = [];
      out.commitCount = 0;
      return out;
    }
    const repo = await this.readableAppRepo();
    if (!repo) {
      out.note = `Conveyor cannot read the application repository ${this.app.repo} (plain Git remotes and local paths are read; see the README)`;
      return out;
    }
    try {
      await this.syncAppRepo(repo.host);
      const [a, b] = await Promise.all([repo.host.resolve(fromSide.revision), repo.host.resolve(toSide.revision)]);
      const missing = [!b && toSide.revision, !a && fromSide.revision].filter(Boolean) as string[];
      if (!a || !b) {
        out.note = `${missing.map((m) => m.slice(0, 12)).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not in ${repo.name}`;
        return out;
      }
      if (await repo.host.isAncestor(b, a)) {
        const behind = await repo.host.log(b, a, 1000);
        out.note = `${this.label(to)} is older than ${this.label(from)}: it lacks ${behind.length} application commit(s) of it (${repo.name})`;
        return out;
      }
      const ahead = await repo.host.log(a, b, 1000);
      out.commits = ahead.slice(0, MAX_COMMITS);
      out.commitCount = ahead.length;
      out.repo = repo.name;
    } catch (err) {
      out.note = `cannot read ${repo.name} (${reason(err)})`;
    }
    return out;
  }

  /**
   * The dry-run's words for moving `env` from `from` to `to`: the file, the field, old → new.
   * `gitopsBranch` and `repo` name where the commit goes.
   */
  describeWrite(env: string, from: ImageVersion | null, to: ImageVersion, where: string): string[] {
    const { file, spec } = gitopsTarget(this.app, env);
    const lines: string[] = [];
    const change = (field: string, a: string | undefined, b: string | undefined) => {
      if (a !== b) lines.push(`${file}: ${field} ${a ?? '(none)'} → ${b ?? '(none)'}`);
    };
    if (spec.format === 'kustomize') {
      change(`images[name=${spec.image}].newTag`, from?.tag, to.tag);
      change(`images[name=${spec.image}].digest`, from?.digest, to.digest);
    } else if (spec.format === 'helm-values') {
      if (spec.digestPath) {
        change(spec.tagPath, from?.tag, to.tag);
        change(spec.digestPath, from?.digest, to.digest);
      } else change(spec.tagPath, from ? fieldText(from) : undefined, fieldText(to));
    } else {
      change(spec.path, from ? this.reference(from) : undefined, this.reference(to));
    }
    if (from && sameVersion(from, to)) lines.push(`${file}: already names ${this.label(to)}; only the record moves`);
    lines.push(`one commit on ${where}, changing only that field (comments and formatting kept)`);
    return lines;
  }

  private side(v: ImageVersion): ImageSide {
    const s: ImageSide = { reference: this.reference(v) };
    if (v.tag) s.tag = v.tag;
    if (v.digest) s.digest = v.digest;
    return s;
  }

  private label(v: ImageVersion): string {
    return v.tag ?? v.digest?.slice(0, 19) ?? '?';
  }

  private async provenance(v: ImageVersion): Promise<ImageProvenance | null> {
    if (!this.source || !this.app.image) return null;
    this.registry ??= this.source.registry();
    const repository = this.app.image.repository.slice(this.app.image.repository.indexOf('/') + 1);
    return this.registry.provenance(repository, v.digest ?? v.tag ?? '');
  }

  private readableAppRepo(): Promise<{ host: GitHost; name: string } | null> {
    if (!this.source) return Promise.resolve(null);
    this.appRepo ??= this.source.appRepo().catch(() => null);
    return this.appRepo;
  }

  private async syncAppRepo(host: GitHost): Promise<void> {
    if (this.now() - this.appSyncedAt < APP_REPO_FRESH_MS) return;
    await host.sync();
    this.appSyncedAt = this.now();
  }
}

function fieldText(v: ImageVersion): string {
  return v.tag && v.digest ? `${v.tag}@${v.digest}` : (v.tag ?? v.digest ?? '');
}

function reason(err: unknown): string {
  return isConveyorError(err) ? err.message : 'unexpected error';
}
