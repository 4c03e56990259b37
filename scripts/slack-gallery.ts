/**
 * The Slack gallery: the Block Kit JSON of each message Conveyor posts (an operation in each of
 * its states, `list`, `diff`, the App Home), rendered from fixed example data by the same code
 * that renders the real messages, written to docs/slack/*.json. Each file is a payload that
 * Slack's Block Kit Builder opens as it is (https://app.slack.com/block-kit-builder, paste it).
 * `npm run slack:gallery` after changing a layout; test/integration/slack-gallery.test.ts fails
 * while a file is out of date.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { soakFailureReply } from '../src/core/soak-notice.js';
import { join } from 'node:path';
import { renderHomeView, renderReplyBlocks, renderReplyText } from '../src/adapters/slack-blocks.js';
import type { QuorumStatus } from '../src/core/approval-gate.js';
import type { GitOperation, Operation, OperationState } from '../src/core/operation.js';
import { renderOperation } from '../src/core/operation-view.js';
import { type MatrixView, okReply, type Reply } from '../src/core/reply.js';

export const GALLERY_DIR = join(import.meta.dirname, '..', 'docs', 'slack');

const WEB = {
  commit: 'https://github.com/acme/api/commit/{sha}',
  compare: 'https://github.com/acme/api/compare/{from}...{to}',
  tag: 'https://github.com/acme/api/releases/tag/{tag}',
  board: 'https://conveyor.example.com/ops/{id}',
};
const AT = '2026-11-25T09:30:00.000Z';

function operation(state: OperationState, extra: Partial<GitOperation> = {}, progress: GitOperation['progress'] = {}): GitOperation {
  return {
    id: 'op_k3v9x2m4q8',
    kind: 'promote',
    app: 'api',
    env: 'prod',
    state,
    requester: 'U012ABCDEF',
    plan: {
      app: 'api',
      env: 'prod',
      branch: 'prod',
      sourceEnv: 'staging',
      sourceSha: '7c124b70e1f2a3b4c5d6e7f8091a2b3c4d5e6f70',
      sourceTree: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      targetHead: '19b99b07aa11bb22cc33dd44ee55ff6677889900',
      mode: 'fast-forward',
      viaPullRequest: false,
      commits: [
        { sha: '7c124b70e1f2a3b4c5d6e7f8091a2b3c4d5e6f70', subject: 'Retry upstream calls with backoff', author: 'Ben Dev', date: AT },
        { sha: 'c44673c4e1f2a3b4c5d6e7f8091a2b3c4d5e6f70', subject: 'Cache configuration reads', author: 'Chloe Dev', date: AT },
        { sha: '5d1e2f3a4b5c6d7e8f9012345678901234567890', subject: 'Orders: validate the currency before pricing', author: 'Dara Dev', date: AT },
      ],
      commitCount: 3,
      ticket: 'CHG0012345',
      emergency: false,
      fromTag: 'prod/2026.11.04.1',
      toTag: 'staging/2026.11.20.1',
      reason: null,
    },
    progress: { requiredRoles: { 'tech-lead': 1, 'product-owner': 1, devops: 1 }, confirm: true, ...progress },
    idempotencyKey: null,
    message: null,
    error: null,
    createdAt: AT,
    updatedAt: AT,
    expiresAt: null,
    ...extra,
  };
}

function gate(given: Record<string, string[]>, waiting: boolean, names = ['tech-lead', 'product-owner', 'devops']): QuorumStatus {
  const roles = names.map((role) => ({ role, needed: 1, approvers: given[role] ?? [] }));
  const who: Record<string, { users: string[]; groups: string[] }> = {
    'tech-lead': { users: ['U02LEAD001'], groups: [] },
    'product-owner': { users: [], groups: ['S0PRODOWN1'] },
    devops: { users: ['U03OPS0001', 'U03OPS0002'], groups: [] },
  };
  const waitingFor = waiting ? roles.filter((r) => r.approvers.length < r.needed).map((r) => ({ role: r.role, ...who[r.role]! })) : [];
  const missing = roles.filter((r) => r.approvers.length < r.needed).map((r) => r.role);
  return { roles, satisfied: missing.length === 0, missing, waitingFor };
}

const ALL = { 'tech-lead': ['U02LEAD001'], 'product-owner': ['U04PO00001'], devops: ['U03OPS0001'] };
const done = { tag: 'prod/2026.11.25.1', lastStep: 'tag' };

function matrix(apps: number): MatrixView {
  const envs = ['development', 'qa', 'staging', 'prod (PR)'];
  const live = ['healthy', 'healthy', 'progressing', 'healthy', 'failed', 'drifted', 'unknown'];
  return {
    envs,
    apps: Array.from({ length: apps }, (_, i) => ({
      name: ['api', 'web', 'billing', 'orders', 'search', 'ledger', 'notifications-gateway'][i % 7]! + (i >= 7 ? `-${Math.floor(i / 7) + 1}` : ''),
      cells: envs.map((env, j) => ({
        env,
        version: `${env.split(' ')[0]}/2026.11.${String(25 - j * 3).padStart(2, '0')}.${(i % 9) + 1}`,
        sha: 'abcdef0123456789',
        age: `${j * 3 + (i % 4)}d ago`,
        live: live[(i + j) % live.length]!,
        pending: i % 5 === 0 && j === 3 ? ['promote op_k3v9x2m4q8'] : [],
        lock:
          i === 1 && j === 3
            ? { by: 'Ana Ops', reason: 'quarter-end freeze', since: '2026-11-25T08:00:00.000Z', until: null, allApps: false, unlock: 'unlock web prod' }
            : null,
      })),
    })),
  };
}

function listReply(apps: number): Reply {
  const view = matrix(apps);
  const rows = view.apps.flatMap((a) => a.cells.map((c) => [a.name, c.env, c.version ?? '—', 'abcdef01', c.age ?? '—', 'Ben Dev', c.live, c.pending.join('; '), 'Retry upstream calls with backoff']));
  return okReply(`${apps} apps × 4 environments`, [{ type: 'table', header: ['app', 'env', 'deploy tag', 'sha', 'age', 'deployed by', 'live', 'pending', 'subject'], rows }], { matrix: view });
}

function diffReply(): Reply {
  return okReply('qa differs from development for 1 of 2 app(s)', [
    { type: 'text', text: 'api: development/2026.11.25.2 (7c124b70) vs qa/2026.11.21.1 (19b99b07) — qa lacks 3 commit(s)' },
    { type: 'list', title: 'commits', items: ['7c124b70 Retry upstream calls with backoff (Ben Dev)', 'c44673c4 Cache configuration reads (Chloe Dev)', '5d1e2f3a Orders: validate the currency before pricing (Dara Dev)'] },
    { type: 'list', title: '4 file(s) changed, +61 -12', items: ['src/http/retry.ts +40 -3', 'src/config/cache.ts +12 -4', 'src/orders/price.ts +8 -5', 'test/retry.test.ts +1 -0'] },
    { type: 'text', text: 'to bring qa up to development:' },
    { type: 'code', text: 'promote api qa' },
  ]);
}

/** Every gallery payload by file name: `{ blocks }` (with the fallback `text` where a message has one). */
export function galleryPayloads(): Record<string, { text?: string; blocks: unknown[] }> {
  const op = (o: Operation, g: QuorumStatus | null) => renderOperation(o, g, [], { web: WEB });
  const message = (reply: Reply) => ({ text: renderReplyText(reply), blocks: renderReplyBlocks(reply) });
  const rollback = operation('succeeded', { kind: 'rollback', requester: 'U02LEAD001' }, { ...done, tag: 'prod/2026.11.25.2', requiredRoles: { 'tech-lead': 1 } });
  if ('branch' in rollback.plan) Object.assign(rollback.plan, { sourceEnv: null, fromTag: 'prod/2026.11.25.1', toTag: 'prod/2026.11.04.1', commits: [], commitCount: 0, reason: 'rollback to prod/2026.11.04.1', ticket: null });
  const home = renderHomeView(listReply(8), okReply('1 operation(s) wait for you', [{ type: 'list', items: ['op_k3v9x2m4q8: promote api → prod (asked by U012ABCDEF; you can approve as tech-lead)'] }]));
  return {
    'request.json': message(op(operation('requested', {}, { requiredRoles: {} }), null)),
    'awaiting-approval.json': message(op(operation('awaiting-approval'), gate({ 'tech-lead': ['U02LEAD001'] }, true))),
    'approved.json': message(op(operation('approved'), gate(ALL, false))),
    'applying.json': message(op(operation('applying', {}, { lastStep: 'push' }), gate(ALL, false))),
    'succeeded.json': message(op(operation('succeeded', {}, done), gate(ALL, false))),
    'failed.json': message(op(operation('failed', { error: 'the rollout of api in prod-eu did not become ready within 10m (2 of 3 pods crash-looping)' }, done), gate(ALL, false))),
    'rolled-back.json': message(op(rollback, gate({ 'tech-lead': ['U03OPS0001'] }, false, ['tech-lead']))),
    'list.json': message(listReply(20)),
    'diff.json': message(diffReply()),
    'soak-failure.json': message(
      soakFailureReply({
        title: 'api in prod: check error-rate (prometheus) failed: 1 of 5 measurements failed (limit 0): 0.083 ≥ 0.05, inside the soak window of promote api → prod (op_k3v9x2m4q8) (until 2026-11-26T09:30:00.000Z)',
        lines: [
          "`rollback api prod --to prod/2026.11.04.1` (or the button) rolls it back, as whoever asks, through prod's gate",
        ],
        rollback: 'rollback api prod --to prod/2026.11.04.1',
      }),
    ),
    'app-home.json': { blocks: home.blocks },
  };
}

/** The files as they are written: pretty JSON, one trailing newline. */
export function renderGallery(): Record<string, string> {
  return Object.fromEntries(Object.entries(galleryPayloads()).map(([name, payload]) => [name, `${JSON.stringify(payload, null, 2)}\n`]));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  mkdirSync(GALLERY_DIR, { recursive: true });
  for (const [name, text] of Object.entries(renderGallery())) writeFileSync(join(GALLERY_DIR, name), text);
  process.stdout.write(`wrote ${Object.keys(renderGallery()).length} payloads to docs/slack/\n`);
}
