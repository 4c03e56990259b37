/**
 * Writes an OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
 * by hand: `oci-layout`, `index.json`, and content-addressed blobs under `blobs/sha256/`. Each
 * image is one tiny layer (a gzipped tar holding one file) and a config carrying the OCI labels,
 * so `skopeo copy oci:DIR:TAG docker://…` can push it to a real registry and `skopeo inspect
 * oci:DIR:TAG` reads it. The sandbox's `worker` images are made with it (no Docker, no network);
 * the registry tests push its output with skopeo.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface LayoutImage {
  tag: string;
  labels?: Record<string, string>;
  /** ISO 8601; default a fixed date. */
  created?: string;
  /** Content of the one file in the layer, so different images get different digests. */
  content?: string;
}

export interface WrittenImage {
  tag: string;
  /** The manifest's digest (what a registry reports for the tag). */
  digest: string;
  configDigest: string;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function putBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const hex = sha256(data);
  writeFileSync(join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

/** A ustar archive with one regular file. */
function tarOneFile(name: string, content: string): Buffer {
  const body = Buffer.from(content, 'utf8');
  const header = Buffer.alloc(512, 0);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 8, 'ascii');
  header.write('0000000\0', 108, 8, 'ascii');
  header.write('0000000\0', 116, 8, 'ascii');
  header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  header.write('00000000000\0', 136, 12, 'ascii');
  header.write('        ', 148, 8, 'ascii');
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512, 0);
  return Buffer.concat([header, body, pad, Buffer.alloc(1024, 0)]);
}

/** Add images to the layout in `dir` (created when missing); returns their digests. */
export function writeOciLayout(dir: string, images: LayoutImage[]): WrittenImage[] {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  let index: { schemaVersion: number; mediaType?: string; manifests: unknown[] } = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [],
  };
  try {
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  } catch {
    // a new layout
  }
  const written: WrittenImage[] = [];
  for (const image of images) {
    const tar = tarOneFile('app/version.txt', image.content ?? `${image.tag}\n`);
    const layer = putBlob(dir, gzipSync(tar));
    const config = putBlob(
      dir,
      JSON.stringify({
        created: image.created ?? '2026-11-01T00:00:00Z',
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: image.labels ?? {} },
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
        history: [{ created: image.created ?? '2026-11-01T00:00:00Z', created_by: 'conveyor test' }],
      }),
    );
    const manifest = putBlob(
      dir,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
    index.manifests = index.manifests.filter(
      (m) =>
        (m as { annotations?: Record<string, string> }).annotations?.['org.opencontainers.image.ref.name'] !==
        image.tag,
    );
    index.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: { 'org.opencontainers.image.ref.name': image.tag },
    });
    written.push({ tag: image.tag, digest: manifest.digest, configDigest: config.digest });
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return written;
}
