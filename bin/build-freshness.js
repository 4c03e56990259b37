// Whether dist/ is up to date with the TypeScript sources: its entry point is no older than the
// newest .ts file under src/ and commands/. bin/conveyor.js runs dist/ only when it is; npm's
// `prepare` compiles only when it is not (so `npx conveyor`, which installs this folder into
// npm's exec cache and runs `prepare` there, does not compile again a build that is current).
// Run as a script, it exits 0 when dist/ is current and 1 when it is not.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
export const compiled = join(root, 'dist', 'src', 'cli.js');

function newestSource(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export function buildIsFresh() {
  if (!existsSync(compiled)) return false;
  const built = statSync(compiled).mtimeMs;
  return ['src', 'commands'].every((d) => newestSource(join(root, d)) <= built);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(buildIsFresh() ? 0 : 1);
