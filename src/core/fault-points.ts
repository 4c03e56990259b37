/**
 * Named points where crash tests may kill the process (CONVEYOR_CRASH_AT=<point>): right
 * after an external effect and before it is recorded, the worst moment to die. Unset in
 * normal runs, where this does nothing.
 */
export function crashPoint(name: string, env: NodeJS.ProcessEnv = process.env): void {
  if (env.CONVEYOR_CRASH_AT && env.CONVEYOR_CRASH_AT === name) {
    process.kill(process.pid, 'SIGKILL');
  }
}
