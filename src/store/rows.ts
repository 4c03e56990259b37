/** Helpers the aggregates' stores share to read rows back (PGlite and pg return timestamps as Date). */
export const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
