/** Objects with metadata (S3, or a local folder). */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  metadata: Record<string, string>;
  /** ISO 8601: when the object was last written (its upload), where the store says. */
  lastModified?: string;
}

export interface ObjectStore {
  put(key: string, body: Readable, options: { metadata: Record<string, string>; size?: number }): Promise<void>;
  get(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | null>;
  list(prefix: string): Promise<ObjectInfo[]>;
}
