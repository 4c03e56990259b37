/**
 * ObjectStore over S3 (or any S3-compatible server). Thin: the S3Client is built by the
 * composition root (`createS3Client`) and passed in.
 *
 * `list` returns key and size with empty metadata (ListObjectsV2 does not carry user metadata;
 * one HeadObject per key would not be cheap): call `head` for the metadata of one object.
 */

import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { Upload } from '@aws-sdk/lib-storage';
import { NotFoundError, UpstreamError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../core/ports.js';

export const PART_SIZE = 8 * 1024 * 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;
export const QUEUE_SIZE = 4;

export interface S3ClientOptions {
  region: string;
  /** e.g. http://127.0.0.1:4568 for a local server; omit for AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK attempts per request (first try included). Default 3. */
  maxAttempts?: number;
  /**
   * A bucket in another account: the client signs with temporary credentials of this role, got
   * from STS with the base credentials (`credentials`, else the default chain: IRSA, env, …)
   * and refreshed by the SDK before they expire.
   */
  assumeRole?: {
    roleArn: string;
    externalId?: string;
    sessionName?: string;
    stsEndpoint?: string;
    durationSeconds?: number;
  };
}

/** A session name S3 and CloudTrail show: the given one, else `conveyor-<host>` within STS's limits. */
function sessionNameOf(given: string | undefined): string {
  if (given) return given;
  return `conveyor-${hostname()}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

export function createS3Client(options: S3ClientOptions): S3Client {
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? false,
    // Streams of unknown length break the default flexible checksums; we carry our own sha256.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: options.maxAttempts ?? 3,
    retryMode: 'standard',
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.assumeRole) {
    const role = options.assumeRole;
    config.credentials = fromTemporaryCredentials({
      ...(options.credentials ? { masterCredentials: options.credentials } : {}),
      params: {
        RoleArn: role.roleArn,
        RoleSessionName: sessionNameOf(role.sessionName),
        DurationSeconds: role.durationSeconds ?? 3600,
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
      },
      clientConfig: {
        region: options.region,
        ...(role.stsEndpoint ? { endpoint: role.stsEndpoint } : {}),
        maxAttempts: options.maxAttempts ?? 3,
      },
    });
  } else if (options.credentials) config.credentials = options.credentials;
  return new S3Client(config);
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function describe(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name && e.name !== 'Error' ? e.name : '';
  const text = [name, status ? `HTTP ${status}` : '', e.message ?? String(err)].filter(Boolean).join(': ');
  return text.replace(/\?[^\s]*/g, '').slice(0, 300);
}

function isNotFound(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

export interface S3StoreOptions {
  bucket: string;
  /** Server-side encryption of uploads; `kmsKeyId` only with `aws:kms` (absent: the bucket's default key). */
  sse?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
}

export class S3ObjectStore implements ObjectStore {
  private readonly bucket: string;

  constructor(
    private readonly client: S3Client,
    private readonly options: S3StoreOptions,
  ) {
    this.bucket = options.bucket;
  }

  /**
   * Uploads carry an SHA-256 checksum that S3 verifies before it stores anything
   * (`ChecksumAlgorithm: SHA256`: the SDK sends one per request, each part of a multipart
   * upload included). A single-part upload whose metadata names the sha256 the uploader
   * computed sends that one (`x-amz-checksum-sha256`), so S3 refuses bytes that differ from
   * the file that was hashed.
   */
  async put(key: string, body: Readable, options: { metadata: Record<string, string>; size?: number }): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        Metadata: options.metadata,
        ChecksumAlgorithm: 'SHA256',
        ...(options.size !== undefined && options.size < PART_SIZE ? { ContentLength: options.size } : {}),
        ...(options.size !== undefined && options.size < PART_SIZE && SHA256_HEX.test(options.metadata.sha256 ?? '')
          ? { ChecksumSHA256: Buffer.from(options.metadata.sha256!, 'hex').toString('base64') }
          : {}),
        ...(this.options.sse ? { ServerSideEncryption: this.options.sse } : {}),
        ...(this.options.sse === 'aws:kms' && this.options.kmsKeyId ? { SSEKMSKeyId: this.options.kmsKeyId } : {}),
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      body.destroy();
      throw new UpstreamError('s3', `upload of ${key} to bucket ${this.bucket} failed: ${describe(err)}`, {
        cause: err,
      });
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = res.Body;
      if (body instanceof Readable) return body;
      if (body && typeof (body as { transformToWebStream?: unknown }).transformToWebStream === 'function') {
        const web = (body as { transformToWebStream(): ReadableStream }).transformToWebStream();
        return Readable.fromWeb(web as import('node:stream/web').ReadableStream);
      }
      throw new UpstreamError('s3', `object ${key} came back without a body`);
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      if (isNotFound(err)) throw new NotFoundError(`object ${key} does not exist in bucket ${this.bucket}`);
      throw new UpstreamError('s3', `download of ${key} failed: ${describe(err)}`, { cause: err });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: res.ContentLength ?? 0,
        metadata: { ...(res.Metadata ?? {}) },
        ...(res.LastModified ? { lastModified: res.LastModified.toISOString() } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw new UpstreamError('s3', `head of ${key} failed: ${describe(err)}`, { cause: err });
    }
  }

  /**
   * Abort multipart uploads under `prefix` started more than `olderThanMs` ago: what a
   * journal-watch killed mid-upload left behind (its parts cost storage until aborted).
   * The bucket's lifecycle rule (AbortIncompleteMultipartUpload) is the safety net for
   * prefixes no watcher restarts on. Returns how many were aborted.
   */
  async abortStaleUploads(prefix: string, olderThanMs: number, now = Date.now()): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (let page = 0; page < 100; page++) {
        const res = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
        for (const u of res.Uploads ?? []) {
          if (!u.Key || !u.UploadId || !u.Initiated || now - u.Initiated.getTime() < olderThanMs) continue;
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
          );
          aborted += 1;
        }
        if (!res.IsTruncated) break;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker;
      }
    } catch (err) {
      throw new UpstreamError('s3', `cleaning stale uploads under ${prefix} failed: ${describe(err)}`, { cause: err });
    }
    return aborted;
  }

  /** Keys and sizes under `prefix`, all pages; metadata is `{}` (see the file comment). */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.client },
        { Bucket: this.bucket, Prefix: prefix },
      )) {
        for (const o of page.Contents ?? []) {
          if (o.Key)
            out.push({
              key: o.Key,
              size: o.Size ?? 0,
              metadata: {},
              ...(o.LastModified ? { lastModified: o.LastModified.toISOString() } : {}),
            });
        }
      }
    } catch (err) {
      throw new UpstreamError('s3', `listing ${prefix} failed: ${describe(err)}`, { cause: err });
    }
    return out;
  }
}
