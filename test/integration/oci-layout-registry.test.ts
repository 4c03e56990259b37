/**
 * The OCI image layout, checked against skopeo (the tool that writes and reads it for real):
 * what Conveyor's writer puts down (the sandbox's images) `skopeo inspect oci:<dir>:<tag>` reads
 * with the same digests and labels; a layout skopeo itself wrote (`skopeo copy oci:… oci:…`) is
 * read by OciLayoutRegistry; a damaged layout is one clear error, not a crash.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayoutRegistry } from '../../src/adapters/oci-layout-registry.js';
import { UpstreamError } from '../../src/core/errors.js';
import { writeOciLayout } from '../../src/sandbox/oci-layout.js';
import { createWorkerDemo } from '../../src/sandbox/worker-demo.js';
import { git } from '../support/git-helpers.js';

const SKOPEO = '/usr/bin/skopeo';
const REVISION = 'a'.repeat(40);

function skopeo(...args: string[]): string {
  return execFileSync(SKOPEO, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inspect(layout: string, tag: string): { Digest: string; Labels: Record<string, string>; Created: string } {
  return JSON.parse(skopeo('inspect', `oci:${layout}:${tag}`));
}

describe.skipIf(!existsSync(SKOPEO))('OCI image layout: written by Conveyor, read by skopeo, and back', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-oci-layout-'));
    process.env.GIT_CONFIG_GLOBAL ??= '/dev/null';
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("skopeo reads the sandbox's worker images: digests, labels naming real commits of the application repository", () => {
    const sandbox = join(dir, 'sandbox');
    mkdirSync(join(sandbox, 'repos'), { recursive: true });
    createWorkerDemo(sandbox);
    const layout = join(sandbox, 'images', 'worker');
    expect(JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const refNames = index.manifests.map(
      (m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'],
    );
    expect(refNames).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0']);
    const app = join(sandbox, 'repos', 'worker.git');
    const revisions = new Set<string>();
    for (const [i, tag] of refNames.entries()) {
      const seen = inspect(layout, tag);
      expect(seen.Digest).toBe(index.manifests[i].digest);
      const revision = seen.Labels['org.opencontainers.image.revision']!;
      expect(git(app, 'cat-file', '-t', revision)).toBe('commit');
      expect(seen.Labels['org.opencontainers.image.source']).toBe(`file://${app}`);
      revisions.add(revision);
    }
    expect(revisions.size).toBe(4);
    // The overlays of the GitOps repository pin those digests.
    const qa = git(join(sandbox, 'repos', 'deploy.git'), 'show', 'main:overlays/qa/kustomization.yaml');
    expect(qa).toContain(`digest: ${inspect(layout, '1.2.0').Digest}`);
  });

  it('OciLayoutRegistry agrees with skopeo on tags, digests and labels; an unchanged index says so', async () => {
    const layout = join(dir, 'written');
    writeOciLayout(layout, [
      { tag: '2.0.0', created: '2026-11-20T10:00:00Z', labels: { 'org.opencontainers.image.revision': REVISION } },
      { tag: '2.1.0', created: '2026-11-21T10:00:00Z', labels: { 'org.opencontainers.image.source': 'https://x' } },
    ]);
    const registry = new OciLayoutRegistry(layout);
    const listed = await registry.listTags('team/worker');
    expect(listed).toEqual({ tags: ['2.0.0', '2.1.0'], changed: true });
    expect((await registry.listTags('team/worker')).changed).toBe(false);
    const seen = inspect(layout, '2.0.0');
    expect(await registry.headManifest('team/worker', '2.0.0')).toEqual({
      digest: seen.Digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });
    expect((await registry.headManifest('team/worker', seen.Digest))?.digest).toBe(seen.Digest);
    expect(await registry.headManifest('team/worker', '9.9.9')).toBeNull();
    expect(await registry.provenance('team/worker', '2.0.0')).toEqual({
      revision: REVISION,
      created: '2026-11-20T10:00:00Z',
      labels: { 'org.opencontainers.image.revision': REVISION },
    });
    expect((await registry.provenance('team/worker', '2.1.0'))?.source).toBe('https://x');
    // A new image: the listing changed.
    writeOciLayout(layout, [{ tag: '2.2.0' }]);
    expect(await registry.listTags('team/worker')).toEqual({ tags: ['2.0.0', '2.1.0', '2.2.0'], changed: true });
  });

  it('reads a layout skopeo wrote itself (skopeo copy oci: → oci:)', async () => {
    const from = join(dir, 'source');
    writeOciLayout(from, [{ tag: '3.0.0', labels: { 'org.opencontainers.image.revision': REVISION } }]);
    const to = join(dir, 'copied');
    skopeo('copy', '--quiet', `oci:${from}:3.0.0`, `oci:${to}:3.0.0`);
    skopeo('copy', '--quiet', `oci:${from}:3.0.0`, `oci:${to}:stable`);
    const registry = new OciLayoutRegistry(to);
    expect((await registry.listTags('team/worker')).tags.sort()).toEqual(['3.0.0', 'stable']);
    expect((await registry.headManifest('team/worker', 'stable'))?.digest).toBe(inspect(to, 'stable').Digest);
    expect((await registry.provenance('team/worker', 'stable'))?.revision).toBe(REVISION);
  });

  it('a missing or damaged layout is an UpstreamError naming the layout, never a crash', async () => {
    const missing = new OciLayoutRegistry(join(dir, 'nowhere'));
    await expect(missing.listTags('team/worker')).rejects.toThrow(UpstreamError);
    await expect(missing.listTags('team/worker')).rejects.toThrow(/OCI layout .*nowhere: no index\.json/);

    const layout = join(dir, 'damaged');
    const [image] = writeOciLayout(layout, [{ tag: '4.0.0' }]);
    writeFileSync(join(layout, 'blobs', 'sha256', image!.configDigest.slice(7)), '{"tampered": true}');
    await expect(new OciLayoutRegistry(layout).provenance('team/worker', '4.0.0')).rejects.toThrow(
      /blob sha256:[0-9a-f]{12} does not match its digest/,
    );
    writeFileSync(join(layout, 'index.json'), '{"schemaVersion": 2, "manifests": "no"}');
    await expect(new OciLayoutRegistry(layout).listTags('team/worker')).rejects.toThrow(/not an OCI image index/);
    await expect(new OciLayoutRegistry(layout).headManifest('team/worker', '../../etc')).rejects.toThrow(
      /not a tag or digest/,
    );
  });
});
