/**
 * What `diff` and `--dry-run` say about an image app's two versions when something is missing:
 * no revision labels, an application repository Conveyor cannot read, a revision it lacks, a
 * registry that fails, an older image; and the field a write changes, in each file format.
 */
import { describe, expect, it } from 'vitest';
import { ImageVersions } from '../../src/adapters/image-versions.js';
import type { AppConfig } from '../../src/config/schema.js';
import { UpstreamError } from '../../src/core/errors.js';
import type { ImageProvenance, ImageRegistry } from '../../src/core/ports.js';
import { MemoryGitHost } from '../fakes/memory-git-host.js';

const D = (n: number) => `sha256:${String(n).repeat(64)}`;

function app(gitops: Record<string, unknown> = {}): AppConfig {
  return {
    name: 'worker',
    repo: './worker.git',
    strategy: 'image',
    image: { repository: 'registry.example.com/team/worker', policy: { semver: '>=1.0.0' }, pollInterval: '5m' },
    gitops: { branch: 'main', paths: { qa: 'overlays/qa' }, format: 'kustomize', envSpecific: [], ...gitops },
  } as unknown as AppConfig;
}

/** An ImageRegistry over a table of labels by digest (a port fake). */
function registry(labels: Record<string, ImageProvenance | Error>): ImageRegistry {
  return {
    listTags: async () => ({ tags: [], changed: false }),
    headManifest: async () => null,
    provenance: async (_repo, ref) => {
      const found = labels[ref];
      if (found instanceof Error) throw found;
      return found ?? null;
    },
  };
}

/** The application repository: c1 ← c2 ← c3 on main. */
function appRepo(): { host: MemoryGitHost; shas: string[] } {
  const host = new MemoryGitHost();
  const c1 = host.commit_('t1', [], 'First');
  const c2 = host.commit_('t2', [c1], 'Second');
  const c3 = host.commit_('t3', [c2], 'Third');
  return { host, shas: [c1, c2, c3] };
}

const rev = (revision: string): ImageProvenance => ({
  revision,
  labels: { 'org.opencontainers.image.revision': revision },
});

describe('ImageVersions.compare', () => {
  it('lists the application commits between the two revisions, newest first', async () => {
    const { host, shas } = appRepo();
    const versions = new ImageVersions(app(), {
      registry: () => registry({ [D(1)]: rev(shas[0]!), [D(3)]: rev(shas[2]!) }),
      appRepo: async () => ({ host, name: './worker.git' }),
    });
    const cmp = await versions.compare({ tag: '1.0.0', digest: D(1) }, { tag: '1.2.0', digest: D(3) });
    expect(cmp.to.reference).toBe(`registry.example.com/team/worker:1.2.0@${D(3)}`);
    expect(cmp.from?.revision).toBe(shas[0]);
    expect(cmp.commits?.map((c) => c.sha)).toEqual([shas[2], shas[1]]);
    expect(cmp.commitCount).toBe(2);
    expect(cmp.repo).toBe('./worker.git');
    expect(host.fetches).toBe(1);
  });

  it('says so when the images carry no revision label, or the repository lacks the revision', async () => {
    const { host, shas } = appRepo();
    const noLabels = new ImageVersions(app(), {
      registry: () => registry({ [D(1)]: { labels: {} }, [D(3)]: rev(shas[2]!) }),
      appRepo: async () => ({ host, name: './worker.git' }),
    });
    const a = await noLabels.compare({ tag: '1.0.0', digest: D(1) }, { tag: '1.2.0', digest: D(3) });
    expect(a.commits).toBeUndefined();
    expect(a.note).toBe('1.0.0 carries no org.opencontainers.image.revision label');

    const unknown = new ImageVersions(app(), {
      registry: () => registry({ [D(1)]: rev('f'.repeat(40)), [D(3)]: rev(shas[2]!) }),
      appRepo: async () => ({ host, name: './worker.git' }),
    });
    const b = await unknown.compare({ tag: '1.0.0', digest: D(1) }, { tag: '1.2.0', digest: D(3) });
    expect(b.note).toBe('ffffffffffff is not in ./worker.git');
  });

  it('says so when the application repository cannot be read, or the registry fails', async () => {
    const { shas } = appRepo();
    const unreadable = new ImageVersions(app(), {
      registry: () => registry({ [D(1)]: rev(shas[0]!), [D(3)]: rev(shas[2]!) }),
      appRepo: async () => null,
    });
    const a = await unreadable.compare({ tag: '1.0.0', digest: D(1) }, { tag: '1.2.0', digest: D(3) });
    expect(a.note).toMatch(/^Conveyor cannot read the application repository \.\/worker\.git/);
    expect(a.from?.revision).toBe(shas[0]); // the labels are still shown

    const down = new ImageVersions(app(), {
      registry: () =>
        registry({
          [D(1)]: new UpstreamError(
            'registry',
            'registry.example.com/team/worker: registry answered HTTP 503 (unavailable)',
          ),
        }),
      appRepo: async () => null,
    });
    const b = await down.compare({ tag: '1.0.0', digest: D(1) }, { tag: '1.2.0', digest: D(3) });
    expect(b.note).toBe(
      "cannot read the images' labels (registry.example.com/team/worker: registry answered HTTP 503 (unavailable))",
    );
    expect(b.to.reference).toBe(`registry.example.com/team/worker:1.2.0@${D(3)}`);
  });

  it('going back to an older image: how many application commits it lacks', async () => {
    const { host, shas } = appRepo();
    const versions = new ImageVersions(app(), {
      registry: () => registry({ [D(1)]: rev(shas[0]!), [D(3)]: rev(shas[2]!) }),
      appRepo: async () => ({ host, name: './worker.git' }),
    });
    const cmp = await versions.compare({ tag: '1.2.0', digest: D(3) }, { tag: '1.0.0', digest: D(1) });
    expect(cmp.commits).toBeUndefined();
    expect(cmp.note).toBe('1.0.0 is older than 1.2.0: it lacks 2 application commit(s) of it (./worker.git)');
  });
});

describe('ImageVersions.describeWrite: the file and field, in each format', () => {
  const from = { tag: '1.2.0', digest: D(2) };
  const to = { tag: '1.3.0', digest: D(3) };

  it('kustomize: the images entry newTag and digest', () => {
    expect(new ImageVersions(app(), undefined).describeWrite('qa', from, to, 'main of deploy')).toEqual([
      'overlays/qa/kustomization.yaml: images[name=registry.example.com/team/worker].newTag 1.2.0 → 1.3.0',
      `overlays/qa/kustomization.yaml: images[name=registry.example.com/team/worker].digest ${D(2)} → ${D(3)}`,
      'one commit on main of deploy, changing only that field (comments and formatting kept)',
    ]);
  });

  it('helm-values: the tag path (holding tag@digest without a digest path), or both paths', () => {
    const lines = new ImageVersions(app({ format: 'helm-values' }), undefined).describeWrite('qa', from, to, 'x');
    expect(lines[0]).toBe(`overlays/qa/values.yaml: image.tag 1.2.0@${D(2)} → 1.3.0@${D(3)}`);
    const both = new ImageVersions(app({ format: 'helm-values', digestPath: 'image.digest' }), undefined);
    expect(both.describeWrite('qa', from, to, 'x').slice(0, 2)).toEqual([
      'overlays/qa/values.yaml: image.tag 1.2.0 → 1.3.0',
      `overlays/qa/values.yaml: image.digest ${D(2)} → ${D(3)}`,
    ]);
  });

  it('yaml-path: the whole reference at its path', () => {
    const versions = new ImageVersions(
      app({ format: 'yaml-path', path: 'spec.template.spec.containers[name=worker].image' }),
      undefined,
    );
    expect(versions.describeWrite('qa', from, to, 'x')[0]).toBe(
      `overlays/qa/deployment.yaml: spec.template.spec.containers[name=worker].image registry.example.com/team/worker:1.2.0@${D(2)} → registry.example.com/team/worker:1.3.0@${D(3)}`,
    );
  });
});
