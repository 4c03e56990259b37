/**
 * While `conveyor serve` starts, V8's young generation stays at its smallest (1 MiB semi-spaces).
 * The start allocates quickly and keeps most of what it allocates (modules, schemas, the
 * configuration, PGlite), and with V8's default growth the young generation doubles up to 2 ×
 * 16 MiB; it gives that back only when V8's memory reducer runs, about 20 s into idleness, so
 * a server just started held ~10 MiB more than one idle for a while. Once the server is ready
 * the default growth (×2) is restored, so under load the young generation grows as usual.
 * `--semi-space-growth-factor` is read each time V8 considers growing, so setting it at run time
 * takes effect (unlike the semi-space sizes, fixed when the heap is made).
 */
import { setFlagsFromString } from 'node:v8';

export function startingUp(on: boolean): void {
  setFlagsFromString(`--semi-space-growth-factor=${on ? 1 : 2}`);
}
