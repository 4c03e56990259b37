/**
 * A real SMTP server (`smtp-server`) on 127.0.0.1 that requires a login and keeps every message
 * it accepts, decoded enough to read as a person would: subject, recipients, the text part.
 * `refuseNext(n, code)` answers the next n messages' DATA with that SMTP code (451: try again
 * later; 550: refused for good).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  raw: string;
}

function decodeWords(s: string): string {
  return s.replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_m, enc: string, data: string) =>
    enc.toLowerCase() === 'b'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(
          data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  return headers;
}

function decodeBody(body: string, encoding: string | undefined): string {
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

function split(raw: string): { head: string; body: string } {
  const at = raw.search(/\r?\n\r?\n/);
  return at < 0 ? { head: raw, body: '' } : { head: raw.slice(0, at), body: raw.slice(at).replace(/^\r?\n\r?\n/, '') };
}

/** The text/plain and text/html parts of a message (single part or multipart/alternative). */
function parts(raw: string): { headers: Record<string, string>; text: string; html: string } {
  const { head, body } = split(raw);
  const headers = parseHeaders(head);
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!boundary)
    return { headers, text: decodeBody(body, headers['content-transfer-encoding']?.toLowerCase()), html: '' };
  let text = '';
  let html = '';
  for (const chunk of body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const part = split(chunk.replace(/^\r?\n/, ''));
    const h = parseHeaders(part.head);
    const decoded = decodeBody(part.body.replace(/\r?\n$/, ''), h['content-transfer-encoding']?.toLowerCase());
    if ((h['content-type'] ?? '').startsWith('text/plain')) text = decoded;
    if ((h['content-type'] ?? '').startsWith('text/html')) html = decoded;
  }
  return { headers, text: text.replace(/\r\n/g, '\n'), html };
}

export class SmtpSink {
  readonly received: ReceivedMail[] = [];
  /** Logins tried (user names only). */
  readonly logins: string[] = [];
  private refusals: number[] = [];
  private constructor(private readonly server: SMTPServer) {}

  static async start(credentials: { user: string; pass: string }): Promise<SmtpSink> {
    let sink: SmtpSink | undefined;
    const server = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, _session, callback) {
        sink!.logins.push(auth.username ?? '');
        if (auth.username === credentials.user && auth.password === credentials.pass)
          return callback(null, { user: auth.username });
        return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const refuse = sink!.refusals.shift();
          if (refuse)
            return callback(Object.assign(new Error(`refused by the test (${refuse})`), { responseCode: refuse }));
          const raw = Buffer.concat(chunks).toString('utf8');
          const { headers, text, html } = parts(raw);
          sink!.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: headers.subject ?? '',
            text,
            html,
            headers,
            raw,
          });
          callback();
        });
      },
    });
    sink = new SmtpSink(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  get port(): number {
    return (this.server.server.address() as AddressInfo).port;
  }

  refuseNext(n: number, code: number): void {
    for (let i = 0; i < n; i++) this.refusals.push(code);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
