/**
 * Run a rendered Deployment's container as a local process, the way a kubelet would start it
 * from the image in `Dockerfile`:
 *
 * - the command is the image's ENTRYPOINT (without tini) followed by the container's `args`
 *   (or the image's CMD); `/app` of the image is this repository (its `bin/conveyor.js`);
 * - the environment is the image's ENV, then the container's `env` in order: values (with
 *   `$(VAR)` expansion), Secret keys filled by the caller (a missing key that is not optional
 *   fails, as the kubelet's CreateContainerConfigError does), `fieldRef`s of the pod;
 * - every volume is a folder under the pod's temporary root, at its mount path: ConfigMaps
 *   (rendered, or supplied by the caller as "expected to exist") and Secret items are written
 *   out with their modes, emptyDirs and PersistentVolumeClaims are empty folders. Absolute paths in args and
 *   env values that lie under a mount path are mapped into the pod's root; nothing else is;
 * - the pod has its own loopback address (127.x.y.z) as its pod IP; the process runs with
 *   the image's WORKDIR (under the pod root) as its working folder.
 *
 * What the test adds to the environment, and nothing else: NODE_OPTIONS (a preload that maps
 * host names to loopback stand-ins and refuses every other name), TMPDIR and HOME (the pod's
 * /tmp mount and the image user's home, inside the pod root), HOST (the pod IP, where the
 * image says 0.0.0.0: inside a pod that is the pod's address), and `extraEnv` of the caller
 * (client endpoint overrides for HTTPS services, which cannot be served here with TLS).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { K8sObject } from './render.js';

const ROOT = resolve(import.meta.dirname, '../../..');

export interface ImageFacts {
  env: Record<string, string>;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
}

/** ENV, WORKDIR, ENTRYPOINT and CMD of the Dockerfile's final stage (JSON forms only). */
export function readImage(dockerfile = join(ROOT, 'Dockerfile')): ImageFacts {
  const text = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const last =
    lines
      .map((l, i) => (/^FROM\s/i.test(l) ? i : -1))
      .filter((i) => i >= 0)
      .at(-1) ?? 0;
  const facts: ImageFacts = { env: {}, workdir: '/', entrypoint: [], cmd: [] };
  for (const line of lines.slice(last)) {
    const [, word = '', rest = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const instruction = word.toUpperCase();
    if (instruction === 'ENV') {
      for (const m of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
        facts.env[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
      }
    } else if (instruction === 'WORKDIR') facts.workdir = resolve(facts.workdir, rest);
    else if (instruction === 'ENTRYPOINT') facts.entrypoint = JSON.parse(rest) as string[];
    else if (instruction === 'CMD') facts.cmd = JSON.parse(rest) as string[];
  }
  return facts;
}

export interface PodInput {
  /** Which render it came from (for messages). */
  render: string;
  deployment: K8sObject;
  /** Every object of the same render (ConfigMaps, Services). */
  objects: K8sObject[];
  podIp: string;
  /** The pod's root folder. */
  root: string;
  image: ImageFacts;
  /** Secret value of `key` in Secret `name`; undefined: the Secret has no such key. */
  secret: (name: string, key: string) => string | undefined;
  /** ConfigMaps the manifests expect to exist (not shipped), by name: file name → content. */
  existingConfigMaps: Record<string, Record<string, string>>;
  /** Module preloaded with --import (the host map). */
  preload: string;
  extraEnv: Record<string, string>;
}

export interface Mount {
  mountPath: string;
  hostPath: string;
  writable: boolean;
  kind: 'configMap' | 'secret' | 'emptyDir' | 'persistentVolumeClaim';
}

export interface Probe {
  kind: 'startupProbe' | 'livenessProbe' | 'readinessProbe';
  url: string;
  /** How long the kubelet would wait for it to pass at start (failureThreshold × period). */
  budgetMs: number;
}

export class Pod {
  readonly name: string;
  readonly container: K8sObject;
  readonly mounts: Mount[] = [];
  /** Files the test wrote (ConfigMap and Secret contents): not writes of the process. */
  readonly seeded = new Set<string>();
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly logFile: string;
  private child: ChildProcess | null = null;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;

  constructor(readonly input: PodInput) {
    const d = input.deployment;
    this.name = `${input.render}/${d.metadata.name}`;
    const spec = d.spec.template.spec as K8sObject;
    if ((spec.containers as K8sObject[]).length !== 1) throw new Error(`${this.name}: one container per pod expected`);
    this.container = spec.containers[0];
    mkdirSync(input.root, { recursive: true });
    this.buildVolumes(spec);
    this.cwd = this.map(input.image.workdir);
    mkdirSync(this.cwd, { recursive: true });
    this.env = this.buildEnv(spec);
    const entry = input.image.entrypoint.filter(
      (w, i, all) => !(w.endsWith('/tini') || (w === '--' && all[i - 1]?.endsWith('/tini'))),
    );
    if (entry[0] !== 'node')
      throw new Error(
        `${this.name}: the image's entrypoint is expected to start with node: ${input.image.entrypoint.join(' ')}`,
      );
    const command = (this.container.command as string[] | undefined) ?? entry;
    const args = (this.container.args as string[] | undefined) ?? (this.container.command ? [] : input.image.cmd);
    const script = join(ROOT, command[1]!);
    if (!existsSync(script))
      throw new Error(`${this.name}: ${command[1]} is not in the image's ${input.image.workdir}`);
    this.argv = [
      script,
      ...command.slice(2).map((a) => this.mapValue(a)),
      ...args.map((a) => this.mapValue(this.expand(a, this.env))),
    ];
    this.logFile = join(input.root, '..', `${input.render.replaceAll('/', '_')}_${d.metadata.name}.log`);
  }

  /** A path of the container as a path of this machine (inside the pod root). */
  map(path: string): string {
    return join(this.input.root, path);
  }

  /** Map an absolute path (alone, or after `--flag=`) that lies under a mount path. */
  private mapValue(value: string): string {
    const m = /^(--[\w-]+=)?(\/.*)$/.exec(value);
    if (!m) return value;
    const path = m[2]!;
    const under = this.mounts.some((mt) => path === mt.mountPath || path.startsWith(`${mt.mountPath}/`));
    return under ? `${m[1] ?? ''}${this.map(path)}` : value;
  }

  private buildVolumes(spec: K8sObject): void {
    const volumes = new Map<string, K8sObject>((spec.volumes ?? []).map((v: K8sObject) => [v.name, v]));
    for (const m of (this.container.volumeMounts ?? []) as K8sObject[]) {
      const volume = volumes.get(m.name) ?? fail(`${this.name}: volumeMount ${m.name} names no volume`);
      const hostPath = this.map(m.mountPath);
      mkdirSync(hostPath, { recursive: true });
      if (volume.configMap) {
        const name = volume.configMap.name as string;
        const rendered = this.input.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
        const data: Record<string, string> =
          rendered?.data ??
          this.input.existingConfigMaps[name] ??
          fail(`${this.name}: ConfigMap ${name} is neither rendered nor documented as expected to exist`);
        for (const [key, content] of Object.entries(data)) {
          const file = join(hostPath, key);
          writeFileSync(file, content);
          chmodSync(file, volume.configMap.defaultMode ?? 0o644);
          this.seeded.add(file);
        }
        this.mounts.push({ mountPath: m.mountPath, hostPath, writable: false, kind: 'configMap' });
      } else if (volume.secret) {
        const name = volume.secret.secretName as string;
        if (!volume.secret.items)
          fail(`${this.name}: secret volume ${m.name} without items is not emulated: list the keys`);
        for (const item of volume.secret.items as K8sObject[]) {
          const value = this.input.secret(name, item.key);
          if (value === undefined) {
            if (volume.secret.optional) continue;
            fail(
              `${this.name}: volume ${m.name} needs key ${item.key} of Secret ${name}, which the documented Secret does not have`,
            );
          }
          const file = join(hostPath, item.path);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, value);
          chmodSync(file, item.mode ?? volume.secret.defaultMode ?? 0o644);
          this.seeded.add(file);
        }
        this.mounts.push({ mountPath: m.mountPath, hostPath, writable: false, kind: 'secret' });
      } else if (volume.emptyDir || volume.persistentVolumeClaim) {
        this.mounts.push({
          mountPath: m.mountPath,
          hostPath,
          writable: !m.readOnly,
          kind: volume.emptyDir ? 'emptyDir' : 'persistentVolumeClaim',
        });
      } else {
        fail(`${this.name}: volume ${m.name} is of a kind this test does not emulate`);
      }
    }
  }

  private expand(value: string, env: Record<string, string>): string {
    return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
  }

  private buildEnv(spec: K8sObject): Record<string, string> {
    const env: Record<string, string> = { ...this.input.image.env };
    const fields: Record<string, string> = {
      'metadata.name': `${this.input.deployment.metadata.name}-0`,
      'metadata.namespace': this.input.deployment.metadata.namespace ?? 'default',
      'status.podIP': this.input.podIp,
      'spec.serviceAccountName': spec.serviceAccountName ?? 'default',
    };
    for (const e of (this.container.env ?? []) as K8sObject[]) {
      if (e.value !== undefined) env[e.name] = this.mapValue(this.expand(String(e.value), env));
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const value = this.input.secret(ref.name, ref.key);
        if (value !== undefined) env[e.name] = value;
        else if (!ref.optional)
          fail(
            `${this.name}: env ${e.name} needs key ${ref.key} of Secret ${ref.name}, which the documented Secret does not have`,
          );
      } else if (e.valueFrom?.fieldRef) {
        env[e.name] =
          fields[e.valueFrom.fieldRef.fieldPath] ??
          fail(`${this.name}: fieldRef ${e.valueFrom.fieldRef.fieldPath} is not emulated`);
      } else fail(`${this.name}: env ${e.name} has a source this test does not emulate`);
    }
    for (const source of this.container.envFrom ?? [])
      fail(`${this.name}: envFrom ${JSON.stringify(source)} is not emulated`);
    // Inside the pod's network namespace, 0.0.0.0 is the pod's address.
    // Anything else would leave the kubelet's probes (and `docker run -p`) unanswered.
    if (env.HOST !== '0.0.0.0' && env.HOST !== this.input.podIp) {
      fail(
        `${this.name}: HOST is ${env.HOST === undefined ? 'not set' : `"${env.HOST}"`} in the image and the pod; it must be 0.0.0.0 (or the pod IP) to be reachable`,
      );
    }
    env.HOST = this.input.podIp;
    const tmp = this.mounts.find((m) => m.mountPath === '/tmp');
    return {
      ...env,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.map('/home/node'),
      ...(tmp ? { TMPDIR: tmp.hostPath } : {}),
      GIT_CONFIG_NOSYSTEM: '1',
      NODE_OPTIONS: `--import=${this.input.preload}`,
      ...this.input.extraEnv,
    };
  }

  /** The container's declared ports by name and number. */
  port(ref: string | number): number {
    if (typeof ref === 'number') return ref;
    const port = ((this.container.ports ?? []) as K8sObject[]).find((p) => p.name === ref);
    return port?.containerPort ?? fail(`${this.name}: no container port named ${ref}`);
  }

  probes(): Probe[] {
    const out: Probe[] = [];
    for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
      const p = this.container[kind] as K8sObject | undefined;
      if (!p) continue;
      if (!p.httpGet) fail(`${this.name}: ${kind} is not an httpGet probe`);
      const scheme = (p.httpGet.scheme ?? 'HTTP').toLowerCase();
      out.push({
        kind,
        url: `${scheme}://${p.httpGet.host ?? this.input.podIp}:${this.port(p.httpGet.port)}${p.httpGet.path ?? '/'}`,
        budgetMs: (p.failureThreshold ?? 3) * (p.periodSeconds ?? 10) * 1000 + (p.initialDelaySeconds ?? 0) * 1000,
      });
    }
    return out;
  }

  start(): void {
    mkdirSync(dirname(this.logFile), { recursive: true });
    const fd = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, this.argv, { cwd: this.cwd, env: this.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const child = this.child;
    this.exit = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  log(tail = 4000): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-tail);
    } catch {
      return '(no output)';
    }
  }

  /** SIGTERM, as the kubelet stops a pod; SIGKILL after the grace period. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    if (!this.child || !this.exit) return null;
    if (!this.running) return this.exit;
    this.child.kill('SIGTERM');
    const grace = (this.input.deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), grace);
    const result = await this.exit;
    clearTimeout(timer);
    return result;
  }

  /** Files the process wrote outside its writable volumes: on a read-only root filesystem, each is an error. */
  writesOutsideVolumes(): string[] {
    const writable = this.mounts.filter((m) => m.writable).map((m) => m.hostPath);
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (writable.some((w) => path === w || path.startsWith(`${w}/`))) continue;
        if (entry.isDirectory()) walk(path);
        else if (!this.seeded.has(path)) out.push(`/${relative(this.input.root, path)}`);
      }
    };
    if (existsSync(this.input.root) && statSync(this.input.root).isDirectory()) walk(this.input.root);
    return out;
  }
}

function fail(message: string): never {
  throw new Error(message);
}
