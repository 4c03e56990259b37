/**
 * The sandbox's `worker`, an app under the image strategy, made offline in a few Git processes:
 * - `repos/worker.git`: the application repository (six commits on main), one `git fast-import`;
 * - `images/worker`: an OCI image layout (what `skopeo copy … oci:<dir>:<tag>` writes) holding
 *   1.0.0 … 1.3.0, each image's config labelled with the commit it was built from
 *   (`org.opencontainers.image.revision`) and the repository (`org.opencontainers.image.source`);
 * - `repos/deploy.git`: the GitOps repository: a Kustomize base and one overlay per environment
 *   pinning the image by tag and digest, plus what Conveyor keeps there for worker — a version
 *   branch `conveyor/worker/<env>` per environment and deploy tags `worker/<env>/…` — so history
 *   and rollback have versions that ran before. One `git fast-import`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FastImportStream, fastImport, initBare } from './demo-repo.js';
import { writeOciLayout } from './oci-layout.js';

export const WORKER_IMAGE = 'registry.example.com/team/worker';
export const WORKER_ENVS = ['development', 'qa', 'staging', 'prod'] as const;

export const WORKER_CONFIG = `  - name: worker                        # an image app: its environments are image references in a GitOps repository
    repo: ./repos/worker.git            # the application repository (diff lists its commits between two images)
    strategy: image
    image:
      repository: ${WORKER_IMAGE}
      layout: ./images/worker           # a local OCI image layout in place of a registry
      policy: { semver: ">=1.0.0" }
    gitops:
      repo: ./repos/deploy.git
      paths:
        development: overlays/development
        qa: overlays/qa
        staging: overlays/staging
        prod: overlays/prod
`;

const APP_COMMITS = [
  { subject: 'Initial worker: consume the orders queue', author: 'Ana Ops', daysAgo: 40, file: 'src/main.ts' },
  { subject: 'Acknowledge messages only after processing', author: 'Ben Dev', daysAgo: 30, file: 'src/ack.ts' },
  { subject: 'Add a dead-letter queue', author: 'Chloe Dev', daysAgo: 22, file: 'src/dead-letter.ts' },
  { subject: 'Batch database writes', author: 'Dara Dev', daysAgo: 15, file: 'src/batch.ts' },
  { subject: 'Expose queue depth as a metric', author: 'Ben Dev', daysAgo: 6, file: 'src/metrics.ts' },
  { subject: 'Retry poison messages three times', author: 'Chloe Dev', daysAgo: 1, file: 'src/retry.ts' },
];

/** Image tag → index of the application commit it was built from, and when it was pushed. */
const IMAGES = [
  { tag: '1.0.0', commit: 0, daysAgo: 39 },
  { tag: '1.1.0', commit: 1, daysAgo: 29 },
  { tag: '1.2.0', commit: 3, daysAgo: 14 },
  { tag: '1.3.0', commit: 5, daysAgo: 0.9 },
];

/** What ran in each environment, oldest first (the last one runs now), and how it got there. */
const RAN: Record<(typeof WORKER_ENVS)[number], { tag: string; daysAgo: number; kind: string }[]> = {
  development: [
    { tag: '1.1.0', daysAgo: 29, kind: 'discovered' },
    { tag: '1.2.0', daysAgo: 14, kind: 'discovered' },
    { tag: '1.3.0', daysAgo: 0.9, kind: 'discovered' },
  ],
  qa: [
    { tag: '1.1.0', daysAgo: 27, kind: 'promote' },
    { tag: '1.2.0', daysAgo: 12, kind: 'promote' },
  ],
  staging: [
    { tag: '1.0.0', daysAgo: 35, kind: 'promote' },
    { tag: '1.1.0', daysAgo: 20, kind: 'promote' },
  ],
  prod: [{ tag: '1.0.0', daysAgo: 33, kind: 'promote' }],
};

const SOURCE_ENV: Record<string, string> = { qa: 'development', staging: 'qa', prod: 'staging' };

const BASE_DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: 1
  selector:
    matchLabels: { app: worker }
  template:
    metadata:
      labels: { app: worker }
    spec:
      containers:
        - name: worker
          image: ${WORKER_IMAGE}
`;

export function workerOverlay(env: string, tag: string, digest: string): string {
  return `# ${env} overlay of the worker: edited by people, CI and Conveyor.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - ../../base # Deployment

namespace: worker-${env}

images:
  - name: ${WORKER_IMAGE} # Conveyor writes newTag and digest
    newTag: "${tag}"
    digest: ${digest}

labels:
  - pairs: { env: ${env} }
`;
}

const pad = (n: number) => String(n).padStart(2, '0');
function tagDay(at: number): string {
  const d = new Date(at);
  return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

/** Create worker's repositories and images under the sandbox folder `dir`. */
export function createWorkerDemo(dir: string, now = Date.now()): void {
  const at = (daysAgo: number) => now - daysAgo * 86_400_000;
  // 1. The application repository.
  const appRepo = join(dir, 'repos', 'worker.git');
  const marks = join(dir, 'repos', '.worker-marks');
  const app = new FastImportStream();
  let parent: number | null = null;
  const appMarks: number[] = [];
  for (const c of APP_COMMITS) {
    const who = { name: c.author, email: `${c.author.split(' ')[0]!.toLowerCase()}@example.com`, at: at(c.daysAgo) };
    parent = app.commit('refs/heads/main', who, `${c.subject}\n`, { [c.file]: `// ${c.subject}\n` }, parent);
    appMarks.push(parent);
  }
  initBare(appRepo, 'main');
  const shaOfMark = fastImport(appRepo, app, marks);

  // 2. The images, in an OCI layout.
  const source = pathToFileURL(appRepo).href;
  const layout = join(dir, 'images', 'worker');
  mkdirSync(layout, { recursive: true });
  const written = writeOciLayout(
    layout,
    IMAGES.map((i) => ({
      tag: i.tag,
      created: new Date(at(i.daysAgo)).toISOString(),
      content: `worker ${i.tag}\n`,
      labels: {
        'org.opencontainers.image.revision': shaOfMark.get(`:${appMarks[i.commit]}`) ?? '',
        'org.opencontainers.image.source': source,
        'org.opencontainers.image.version': i.tag,
      },
    })),
  );
  const digestOf = (tag: string) => written.find((w) => w.tag === tag)!.digest; // every RAN tag is in IMAGES

  // 3. The GitOps repository.
  const ops = new FastImportStream();
  const platform = { name: 'Platform Team', email: 'platform@example.com', at: at(45) };
  const current = (env: (typeof WORKER_ENVS)[number]) => RAN[env].at(-1)!.tag; // every env ran something
  ops.commit(
    'refs/heads/main',
    platform,
    'GitOps repository of the worker: a Kustomize base and an overlay per environment\n',
    {
      'base/deployment.yaml': BASE_DEPLOYMENT,
      'base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
      ...Object.fromEntries(
        WORKER_ENVS.map((e) => [
          `overlays/${e}/kustomization.yaml`,
          workerOverlay(e, current(e), digestOf(current(e))),
        ]),
      ),
    },
    null,
  );
  const conveyor = { name: 'Conveyor', email: 'conveyor@localhost' };
  for (const env of WORKER_ENVS) {
    let head: number | null = null;
    const used = new Map<string, number>();
    for (const ran of RAN[env]) {
      const when = at(ran.daysAgo);
      const version = `${ran.tag}@${digestOf(ran.tag)}`;
      const short = `worker:${ran.tag} (${digestOf(ran.tag).slice(0, 19)})`;
      const subject = ran.kind === 'promote' ? `Promote ${SOURCE_ENV[env]} to ${env}: ${short}` : `${short} in ${env}`;
      head = ops.commit(
        `refs/heads/conveyor/worker/${env}`,
        { ...conveyor, at: when },
        `${subject}\n`,
        { image: `${version}\n` },
        head,
        true,
      );
      const day = tagDay(when);
      const n = (used.get(day) ?? 0) + 1;
      used.set(day, n);
      const by = ran.kind === 'discovered' ? '(the registry discovery)' : 'U_DEMO';
      ops.tag(
        `worker/${env}/${day}.${n}`,
        head,
        { ...conveyor, at: when },
        [
          ran.kind === 'discovered'
            ? `worker ${short.slice('worker:'.length)} in ${env}`
            : `Deploy of worker to ${env}`,
          '',
          'Operation: sandbox',
          `Kind: ${ran.kind}`,
          `Requested-By: ${by}`,
          `Approved-By: ${ran.kind === 'discovered' ? '(no approval required)' : '(sandbox history)'}`,
          '',
        ].join('\n'),
      );
    }
  }
  initBare(join(dir, 'repos', 'deploy.git'), 'main');
  fastImport(join(dir, 'repos', 'deploy.git'), ops);
}
