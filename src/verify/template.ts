/**
 * `{placeholder}` substitution in check settings. Only the names in TEMPLATE_VARS exist (the
 * configuration refuses others), and each value is escaped for where it lands: a URL component,
 * a PromQL string, or plain text (a Job's argv and env, never a shell).
 */
export const TEMPLATE_VARS = ['app', 'env', 'version', 'sha', 'tag', 'operation', 'namespace', 'backup'] as const;
export type TemplateVars = Record<(typeof TEMPLATE_VARS)[number], string>;

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function unknownPlaceholders(text: string): string[] {
  const known = new Set<string>(TEMPLATE_VARS);
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((n) => !known.has(n));
}

export type Escape = 'text' | 'url' | 'promql';

const ESCAPES: Record<Escape, (v: string) => string> = {
  text: (v) => v,
  url: (v) => encodeURIComponent(v),
  // Inside a double-quoted PromQL string: backslash and quote are escaped.
  promql: (v) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"'),
};

export function fill(text: string, vars: TemplateVars, how: Escape = 'text'): string {
  return text.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(vars, name) ? ESCAPES[how](vars[name as keyof TemplateVars]) : whole,
  );
}
