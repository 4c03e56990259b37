/** Journal versions (registration idempotent by checksum) and the environments' import results. */
export interface JournalVersion {
  version: string;
  cluster: string;
  file: string;
  size: number;
  sha256: string;
  objectKey: string;
  ticket: string | null;
  mandators: string[];
  uploadedAt: string;
  registeredAt: string;
  /** When the modelling cluster exported it (the sidecar's `exportedAt`, else the file's mtime when first seen); null when unknown. */
  exportedAt: string | null;
  /** Who registered the upload: the authenticated cluster of the call, `local` (serve's own token), `<user> by hand`, `reconciliation`. */
  uploadedBy: string | null;
}

export interface JournalImport {
  env: string;
  version: string;
  ok: boolean;
  exitCode: number | null;
  durationMs: number;
  outputTail: string;
  error: string | null;
  at: string;
}

export type NewJournalVersion = Omit<JournalVersion, 'registeredAt' | 'exportedAt' | 'uploadedBy'> &
  Partial<Pick<JournalVersion, 'exportedAt' | 'uploadedBy'>>;

export interface JournalVersions {
  /** Register a version; when its checksum is known already, the existing version is returned. */
  register(v: NewJournalVersion): Promise<{ version: JournalVersion; created: boolean }>;
  get(version: string): Promise<JournalVersion | null>;
  /** Newest first. */
  list(filter?: { cluster?: string; day?: string; limit?: number }): Promise<JournalVersion[]>;
  /** The same report delivered twice is recorded once. */
  recordImport(r: Omit<JournalImport, 'at'>): Promise<{ created: boolean }>;
  imports(env: string, limit?: number): Promise<JournalImport[]>;
  /** The newest version this environment imported successfully. */
  lastGoodImport(env: string): Promise<JournalImport | null>;
  /** Successful imports of an environment, newest first, distinct by version. */
  goodImports(env: string): Promise<string[]>;
}
