/**
 * The journal-upload baseline, run as its own process: one `lib-storage` `Upload` of a file to
 * an S3 endpoint with the library's defaults (5 MiB parts, 4 at a time) and the same client
 * settings Conveyor uses. Prints one JSON line: { ms, peakBytes }.
 *
 *   node --import tsx bench/lib/bare-upload.ts <file> <endpoint> <bucket> <key> [--when-told]
 *
 * With `--when-told` it is started ahead: once loaded (and its client made) it prints `ready`
 * and waits, idle, for a line on stdin before it starts the upload (and its clock).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const [file, endpoint, bucket, key, whenTold] = process.argv.slice(2);
if (!file || !endpoint || !bucket || !key) {
  process.stderr.write('usage: bare-upload.ts <file> <endpoint> <bucket> <key>\n');
  process.exit(2);
}
const client = new S3Client({
  region: 'us-east-1',
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
if (whenTold === '--when-told') {
  process.stdout.write('ready\n');
  for await (const chunk of process.stdin) if (String(chunk).includes('\n')) break;
}
const started = performance.now();
await new Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(file) } }).done();
const ms = performance.now() - started;
const status = readFileSync('/proc/self/status', 'utf8');
const peakKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
process.stdout.write(`${JSON.stringify({ ms, peakBytes: peakKb * 1024 })}\n`);
client.destroy();
