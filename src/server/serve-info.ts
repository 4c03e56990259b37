/**
 * `serve.json`: how a running serve on embedded (PGlite) state announces itself to `conveyor run`
 * and the journal tools on the same machine. Kept free of heavy imports: the CLI reads it before
 * it loads (or validates) anything else, so a `conveyor run list` beside a running serve costs
 * one small file read and one HTTP request.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface ServeInfo {
  pid: number;
  port: number;
  token: string;
  /** The state is embedded (PGlite, one process): other processes must go through this serve. */
  embedded?: boolean;
  /** The absolute path of the configuration file this serve runs (the sandbox's own file in the sandbox). */
  config?: string;
}

/** 0600 whatever the umask, also when an earlier file (perhaps with wider modes) is replaced. */
export function writePrivate(file: string, text: string): void {
  rmSync(file, { force: true });
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

export function writeServeInfo(file: string, info: ServeInfo): ServeInfo {
  writePrivate(file, JSON.stringify(info));
  return info;
}

export function removeServeInfo(file: string): void {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ServeInfo;
    if (info.pid === process.pid) rmSync(file, { force: true });
  } catch {
    /* already gone */
  }
}

/** The running serve described by the file, if its process is alive. */
export function readServeInfo(file: string): ServeInfo | null {
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ServeInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}
