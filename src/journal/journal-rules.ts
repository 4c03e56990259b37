/**
 * Pure rules of the journal export: which clusters may write, which mandators each one may
 * export, and the shape of the `<file>.meta.json` sidecar an exporter writes next to a journal.
 */
import { z } from 'zod';
import { InputError, NotAllowedError } from '../core/errors.js';
import { TICKET } from '../core/patterns.js';

export const MANDATORS = ['tech-head', 'business-head'] as const;
export type Mandator = (typeof MANDATORS)[number];

export interface JournalClusterRule {
  name: string;
  writable: boolean;
  /** Mandators this cluster may export; empty or absent: the defaults for its name. */
  mandators?: readonly Mandator[];
}

/** Mandator scope by cluster name when the configuration does not say. */
export const DEFAULT_MANDATOR_SCOPE: Readonly<Record<string, readonly Mandator[]>> = {
  'dev-modelling': ['tech-head'],
  'prod-modelling': ['tech-head', 'business-head'],
};

/** Clusters when the configuration lists none: the two modelling clusters may write. */
export const DEFAULT_JOURNAL_CLUSTERS: readonly JournalClusterRule[] = [
  { name: 'dev-modelling', writable: true, mandators: ['tech-head'] },
  { name: 'prod-modelling', writable: true, mandators: ['tech-head', 'business-head'] },
];

export const journalMetaSchema = z
  .object({
    ticket: z.string().regex(TICKET, 'a change ticket such as CHG0001234'),
    mandators: z.array(z.enum(MANDATORS)).min(1, 'at least one mandator'),
    /** When the modelling cluster exported the file (ISO 8601 with offset); absent: the file's mtime when first seen. */
    exportedAt: z.iso.datetime({ offset: true }).optional(),
    /**
     * The journal's size in bytes, as the exporter wrote it. Declared together with `sha256`, the
     * file counts as finished as soon as it has this size (no stability wait).
     */
    size: z.number().int().nonnegative().optional(),
    /** The SHA-256 of the journal's bytes (64 hex digits); the upload is verified against it. */
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits')
      .transform((s) => s.toLowerCase())
      .optional(),
  })
  .strict();

export type JournalMeta = z.output<typeof journalMetaSchema>;

/** What a sidecar declares about its journal's bytes, when it declares both size and sha256. */
export interface DeclaredContent {
  size: number;
  sha256: string;
}

/** The declared size and sha256 of a sidecar's text, or null (none, or not parseable yet). Never throws. */
export function declaredContent(text: string): DeclaredContent | null {
  try {
    const meta = parseJournalMeta(text);
    return meta.size !== undefined && meta.sha256 !== undefined ? { size: meta.size, sha256: meta.sha256 } : null;
  } catch {
    return null;
  }
}

function effectiveClusters(clusters: readonly JournalClusterRule[]): readonly JournalClusterRule[] {
  return clusters.length > 0 ? clusters : DEFAULT_JOURNAL_CLUSTERS;
}

/** The rule for a cluster, or NotAllowedError when it is not configured or may not upload. */
export function checkClusterMayWrite(cluster: string, clusters: readonly JournalClusterRule[]): JournalClusterRule {
  const all = effectiveClusters(clusters);
  const rule = all.find((c) => c.name === cluster);
  if (!rule) {
    const known = all.map((c) => c.name).join(', ');
    throw new NotAllowedError(`cluster "${cluster}" is not a configured journal cluster (known: ${known})`);
  }
  if (!rule.writable) {
    throw new NotAllowedError(
      `cluster "${cluster}" is read-only for journals: only ${
        all
          .filter((c) => c.writable)
          .map((c) => c.name)
          .join(', ') || 'no cluster'
      } may upload`,
    );
  }
  return rule;
}

/** Mandators a cluster may export: configured ones, else the default for its name, else none. */
export function allowedMandators(rule: JournalClusterRule): readonly Mandator[] {
  if (rule.mandators && rule.mandators.length > 0) return rule.mandators;
  return DEFAULT_MANDATOR_SCOPE[rule.name] ?? [];
}

/** NotAllowedError naming the mandators outside the cluster's scope. */
export function checkMandatorScope(
  cluster: string,
  mandators: readonly string[],
  clusters: readonly JournalClusterRule[],
): void {
  const rule = checkClusterMayWrite(cluster, clusters);
  const allowed = allowedMandators(rule);
  const outside = [...new Set(mandators)].filter((m) => !(allowed as readonly string[]).includes(m));
  if (outside.length > 0) {
    throw new NotAllowedError(
      `cluster "${cluster}" may not export mandator ${outside.join(', ')} (allowed: ${allowed.join(', ') || 'none'})`,
    );
  }
}

/** Parse the text of a `.meta.json` sidecar; InputError saying what is wrong. */
export function parseJournalMeta(text: string): JournalMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError('metadata sidecar is not valid JSON');
  }
  const parsed = journalMetaSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(`metadata sidecar is invalid: ${z.prettifyError(parsed.error).replace(/\n+/g, '; ')}`);
  }
  return parsed.data;
}
