/**
 * The run's sandbox template: one sandbox (`ensureSandbox`: the demo repositories, the image
 * app's layout and GitOps repository) made while the bench loads its scenarios, and copied
 * wherever a scenario's set-up needs a fresh sandbox (the test runtimes' `copySandbox`, the
 * Slack server child's workspace, the board's and cli-list's serve folders) instead of each
 * process making its own. A copy has the same files a new sandbox has; what a scenario measures
 * about making a sandbox (sandbox-create, footprint's first start) still makes one.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SANDBOX_ENV = 'CONVEYOR_BENCH_SANDBOX_TEMPLATE';

/** Its configuration is written last: a template with one is whole. */
const whole = (root: string) => existsSync(join(root, '.conveyor', 'sandbox', 'conveyor.yaml'));

/**
 * Names the template in this process's environment at once (children started from now on
 * inherit it) and makes it; resolves with its folder (the one holding `.conveyor/`).
 */
export function makeSandboxTemplate(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'conveyor-bench-sandbox-template-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  process.env[SANDBOX_ENV] = root;
  return (async () => {
    const { ensureSandbox } = await import('../../src/sandbox/sandbox.js');
    await ensureSandbox(root);
    return root;
  })();
}

/** The template a parent process names (SANDBOX_ENV), once it is whole; null when none is named. */
export function namedSandboxTemplate(timeoutMs = 120_000): Promise<string> | null {
  const root = process.env[SANDBOX_ENV];
  if (!root) return null;
  return (async () => {
    const deadline = Date.now() + timeoutMs;
    while (!whole(root)) {
      if (Date.now() > deadline)
        throw new Error(`the sandbox template ${root} was not made within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return root;
  })();
}

/**
 * A fresh sandbox in `dir`: a copy of the template's `.conveyor` folder (what `ensureSandbox`
 * would make there); returns the sandbox's folder (`dir/.conveyor/sandbox`). Node's fs only, so
 * a child process can copy one without loading Conveyor.
 */
export function copySandboxTemplate(template: string, dir: string): string {
  cpSync(join(template, '.conveyor'), join(dir, '.conveyor'), { recursive: true });
  return join(dir, '.conveyor', 'sandbox');
}
