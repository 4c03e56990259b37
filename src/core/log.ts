/**
 * Structured logs with pino. Secrets never reach a line: known secret fields are redacted
 * by path, and every written line is scrubbed of token-shaped strings and URL query strings.
 */
import { pino, type Logger } from 'pino';

const TOKEN_PATTERNS: RegExp[] = [
  /xox[abposr]-[A-Za-z0-9-]{8,}/g, // Slack tokens
  /xapp-[A-Za-z0-9-]{8,}/g, // Slack app-level tokens
  /gh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /AKIA[0-9A-Z]{16}/g, // AWS access key ids
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(Bearer|token|Basic)\s+[A-Za-z0-9._~+/=-]{12,}/gi,
  /(postgres(?:ql)?:\/\/[^:/\s]+:)[^@\s]+@/g,
];

export function scrubSecrets(text: string, extra: string[] = []): string {
  let out = text;
  for (const secret of extra) if (secret && secret.length >= 6) out = out.split(secret).join('[redacted]');
  for (const pattern of TOKEN_PATTERNS) {
    out = out.replace(pattern, (match, p1: string | undefined) =>
      typeof p1 === 'string' && match.startsWith(p1) && /^(postgres|Bearer|token|Basic)/i.test(p1) ? `${p1}${p1.endsWith(':') ? '[redacted]@' : ' [redacted]'}` : '[redacted]',
    );
  }
  return out.replace(/(https?:\/\/[^\s"?]+)\?[^\s"]*/g, '$1?[redacted]');
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream; secrets?: string[] } = {}): Logger {
  const secrets = options.secrets ?? [];
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: {
        paths: ['*.token', '*.password', '*.secret', '*.authorization', '*.Authorization', 'headers.authorization', '*.headers.authorization', 'req.headers.cookie', '*.privateKey'],
        censor: '[redacted]',
      },
      hooks: {
        streamWrite: (line: string) => scrubSecrets(line, secrets),
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}
