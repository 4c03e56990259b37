/**
 * Structured logs with pino. Secrets never reach a line: known secret fields are redacted
 * by path, and every written line is scrubbed of the configured secret values (also as they
 * look JSON-escaped), token-shaped strings, fields named like secrets at any depth, URL
 * credentials and URL query strings. Levels are written as words (`"level":"info"`), which log
 * collectors read without a mapping table.
 */
import { type Logger, pino } from 'pino';

const TOKEN_PATTERNS: RegExp[] = [
  /xox[abposr]-[A-Za-z0-9-]{8,}/g, // Slack tokens
  /xapp-[A-Za-z0-9-]{8,}/g, // Slack app-level tokens
  /gh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /AKIA[0-9A-Z]{16}/g, // AWS access key ids
  /cvy_[A-Za-z0-9_-]{8,}/g, // Conveyor personal API tokens (cvy_<id>_<secret>)
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

/** `Bearer x`, `token: x`, `token=x`: keep the word, drop what follows. */
const LABELLED = /\b(Bearer|Basic|token)(\s+|\s*[:=]\s*)[A-Za-z0-9._~+/=-]{12,}/gi;
/** Credentials in any URL's user-info (`scheme://user:password@host`): keep the user. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^:/\s"'@]+:)[^\s"'/]*@/gi;
/** Query strings of absolute URLs (any scheme, e.g. wss://…?ticket=) … */
const URL_QUERY = /\b([a-z][a-z0-9+.-]*:\/\/[^\s"'?]+)\?[^\s"']*/gi;
/** … and credential-like parameters of relative ones (`/v1/kv/x?token=…`). */
const PARAM = /([?&;](?:[a-z_]*token|key|sig|signature|secret|password|ticket|code|auth)=)[^&\s"']*/gi;
/** JSON fields named like a secret, at any depth (pino's redact paths only reach fixed depths). */
const SECRET_FIELD =
  /("(?:[A-Za-z0-9_-]*[_-])?(?:token|password|passwd|secret|authorization|cookie|private_?key|api_?key)"|"[a-z][A-Za-z0-9]*(?:Token|Password|Secret|PrivateKey|ApiKey)"):"(?:[^"\\]|\\.)*"/gi;

export function scrubSecrets(text: string, extra: string[] = []): string {
  let out = text;
  for (const secret of extra) {
    if (!secret || secret.length < 6) continue;
    // As written, and as it appears inside a JSON string (quotes and backslashes escaped).
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) out = out.split(form).join('[redacted]');
  }
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, '[redacted]');
  return out
    .replace(SECRET_FIELD, '$1:"[redacted]"')
    .replace(LABELLED, (_m, word: string, sep: string) => `${word}${sep}[redacted]`)
    .replace(USERINFO, '$1[redacted]@')
    .replace(URL_QUERY, '$1?[redacted]')
    .replace(PARAM, '$1[redacted]');
}

export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream; secrets?: string[] } = {},
): Logger {
  const secrets = options.secrets ?? [];
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          '*.token',
          '*.password',
          '*.secret',
          '*.authorization',
          '*.Authorization',
          'headers.authorization',
          '*.headers.authorization',
          'req.headers.cookie',
          '*.privateKey',
        ],
        censor: '[redacted]',
      },
      hooks: {
        streamWrite: (line: string) => scrubSecrets(line, secrets),
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}
