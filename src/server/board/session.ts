/**
 * The board's cookies: sealed with AES-256-GCM (encrypted and authenticated; the cookie's name
 * is bound in as associated data, so one cookie cannot stand in for another), each carrying its
 * own expiry. A forged, altered, expired or foreign cookie reads as no cookie at all.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'conveyor_session';
export const LOGIN_COOKIE = 'conveyor_login';

export class CookieSealer {
  private readonly key: Buffer;

  /** `secret` (BOARD_SESSION_SECRET): without it a random key, so sessions end when serve restarts. */
  constructor(secret: string | undefined) {
    this.key = secret
      ? createHash('sha256').update(`conveyor-board-cookie:${secret}`, 'utf8').digest()
      : randomBytes(32);
  }

  seal(name: string, value: Record<string, unknown>, expiresAtMs: number): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify({ ...value, exp: expiresAtMs }), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The value, or null when the cookie is missing, not ours, altered or expired. */
  unseal(name: string, sealed: string | undefined, nowMs: number): Record<string, unknown> | null {
    if (!sealed || sealed.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(sealed)) return null;
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length < 29) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(name, 'utf8'));
      decipher.setAuthTag(bytes.subarray(12, 28));
      const text = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
      const value = JSON.parse(text) as Record<string, unknown>;
      if (typeof value.exp !== 'number' || value.exp <= nowMs) return null;
      return value;
    } catch {
      return null;
    }
  }
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  /** Secure unless the board is reached on http://127.0.0.1 or localhost. */
  secure: boolean;
  maxAgeSec: number;
}

export function cookieHeader(name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSec))}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearCookie(name: string, secure: boolean): string {
  return cookieHeader(name, '', { secure, maxAgeSec: 0 });
}

/** Cookies may drop Secure only for a board reached on loopback over plain HTTP. */
export function needsSecure(url: string): boolean {
  try {
    const u = new URL(url);
    return !(u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname));
  } catch {
    return true;
  }
}
