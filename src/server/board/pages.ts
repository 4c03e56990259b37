/**
 * The board's pages as HTML bodies. The matrix and the journal pages run the same commands as
 * chat (`list`, `journal status`, `journal list`), so the board shows exactly what they answer;
 * the operation page, history and audit read the store's ports. Every row passes the viewer's
 * visibility (./access.ts) first.
 */
import type { CommandContext, CommandRegistry } from '../../core/command.js';
import { webLinksFor } from '../../core/commit-links.js';
import { isConveyorError, NotFoundError } from '../../core/errors.js';
import { ago, shortSha } from '../../core/format.js';
import { FINAL_STATES, isGitPlan, OPERATION_STATES, type Operation } from '../../core/operation.js';
import { operationHeadline } from '../../core/operation-view.js';
import { OPERATION_ID } from '../../core/patterns.js';
import type { AuditEntry } from '../../core/ports.js';
import type { MatrixView, Reply, ReplyBlock, WebLinks } from '../../core/reply.js';
import type { Runtime } from '../../core/runtime.js';
import { parseSince, SINCE_FORMS } from '../../core/since.js';
import type { Visibility } from '../../core/visibility.js';
import type { Db } from '../../store/db.js';
import { queryAudit } from './audit-query.js';
import { fillTemplate, html, link, type SafeHtml } from './html.js';

export interface BoardData {
  runtime: Runtime & CommandRegistry;
  /** The state database, for the audit queries the store's ports do not offer (./audit-query.ts). */
  db: Db;
}

export interface PageResult {
  title: string;
  body: SafeHtml;
}

const OP_IN_TEXT = /\bop_[0-9a-z]{8,32}\b/g;

/** Text with operation ids linked to their pages. */
function withOpLinks(text: string): SafeHtml {
  const parts: SafeHtml[] = [];
  let at = 0;
  for (const m of text.matchAll(OP_IN_TEXT)) {
    parts.push(html`${text.slice(at, m.index)}`, html`<a href="/ops/${m[0]}">${m[0]}</a>`);
    at = m.index + m[0].length;
  }
  parts.push(html`${text.slice(at)}`);
  return html`${parts}`;
}

function stateChip(state: string): SafeHtml {
  return html`<span class="chip s-${state}">${state}</span>`;
}

/** A table that stacks into labelled lines on a phone. */
function table(caption: string, header: string[], rows: (string | SafeHtml)[][], hideCaption = true): SafeHtml {
  return html`<div class="table-wrap"><table class="stack">
<caption${hideCaption ? html` class="skip"` : ''}>${caption}</caption>
<thead><tr>${header.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map(
    (r) =>
      html`<tr>${r.map((c, i) => html`<td data-label="${header[i] ?? ''}">${typeof c === 'string' ? withOpLinks(c) : c}</td>`)}</tr>`,
  )}</tbody></table></div>`;
}

async function runCommand(data: BoardData, name: string, user: string | null): Promise<Reply> {
  const { runtime } = data;
  const command = runtime.commands.find((c) => c.name === name);
  if (!command) throw new NotFoundError(`no command ${name}`);
  const ctx: CommandContext = {
    runtime,
    user: user ?? 'board',
    source: 'http',
    text: name,
    commands: runtime.commands,
  };
  return command.run(command.schema.parse({}), ctx);
}

/** A command's tables, keeping only the rows of environments the viewer sees (by an `env` column). */
function replyTables(reply: Reply, keep: (env: string) => boolean): SafeHtml {
  return html`${reply.blocks.map((b: ReplyBlock) => {
    if (b.type === 'table') {
      const envAt = b.header.indexOf('env');
      const rows = envAt < 0 ? b.rows : b.rows.filter((r) => keep((r[envAt] ?? '').split(' ')[0] ?? ''));
      return rows.length ? table(reply.title, b.header, rows) : html`<p class="muted">Nothing you may see.</p>`;
    }
    if (b.type === 'list')
      return html`${b.title ? html`<h2>${b.title}</h2>` : ''}<ul>${b.items.map((i) => html`<li>${withOpLinks(i)}</li>`)}</ul>`;
    if (b.type === 'text') return html`<p>${withOpLinks(b.text)}</p>`;
    return '';
  })}`;
}

// ------------------------------------------------------------------ matrix

export async function matrixPage(data: BoardData, vis: Visibility): Promise<PageResult> {
  const reply = await runCommand(data, 'list', vis.viewer.user);
  const matrix = reply.matrix as MatrixView;
  const details = (reply.blocks.find((b) => b.type === 'table') as Extract<ReplyBlock, { type: 'table' }>).rows;
  const envs = matrix.envs.filter((e) => vis.envs.has(e));
  const recent = (await data.runtime.store.operations({ limit: 60 })).filter((o) => vis.operation(o)).slice(0, 10);
  const now = data.runtime.clock.now();
  if (!envs.length)
    return {
      title: 'Environments',
      body: html`<h1>Environments</h1><p>Your roles (${vis.viewer.roles.join(', ') || 'none'}) give you no environment to see.</p>`,
    };
  const body = html`<h1>Environments</h1>
<p class="muted">${reply.title}. The same data as <code>list</code>; refreshed live.</p>
<div class="table-wrap"><table class="stack matrix" aria-describedby="matrix-note">
<caption class="skip">What each app runs in each environment</caption>
<thead><tr><th scope="col">app</th>${envs.map((e) => html`<th scope="col">${e}</th>`)}</tr></thead>
<tbody>${matrix.apps.map(
    (app) =>
      html`<tr><th scope="row" data-label="app">${app.name}</th>${envs.map((env) => {
        const cell = app.cells.find((c) => c.env.split(' ')[0] === env);
        const row = details.find((r) => r[0] === app.name && (r[1] ?? '').split(' ')[0] === env);
        if (!cell) return html`<td data-label="${env}">—</td>`;
        return html`<td class="cell" data-label="${cell.env}" data-app="${app.name}" data-env="${env}" data-sha="${cell.sha ?? ''}">
<div class="cell-body"><div class="version">${cell.version ?? '(no branch)'}</div>
${cell.sha ? html`<div class="mono muted">${shortSha(cell.sha)} · ${cell.age?.startsWith('commit ') ? cell.age : cell.age ? `deployed ${cell.age}` : ''}</div>` : ''}
${row?.[5] && row[5] !== '—' ? html`<div class="muted">by ${row[5]}</div>` : ''}
<div>live: <span class="s-${cell.live}">${cell.live}</span></div>
${cell.applier ? html`<div class="muted applier">${cell.applier}</div>` : ''}
${cell.pending.map((p) => html`<div>${withOpLinks(p)}</div>`)}
${
  cell.lock
    ? html`<div class="lock" role="note"><strong>Locked</strong>${cell.lock.allApps ? ' (every app)' : ''} by ${cell.lock.by}: ${cell.lock.reason}<br><span class="muted">since ${cell.lock.since.slice(0, 16).replace('T', ' ')} UTC · until ${cell.lock.until ?? html`<code>${cell.lock.unlock}</code>`}</span></div>`
    : ''
}</div>
</td>`;
      })}</tr>`,
  )}</tbody></table></div>
<p id="matrix-note" class="muted">Version: the deploy tag on the branch head, or the short sha when the head is untagged.</p>
<h2>Recent operations</h2>
${
  recent.length
    ? table(
        'Recent operations',
        ['operation', 'what', 'state', 'asked'],
        recent.map((o) => [
          html`<a href="/ops/${o.id}">${o.id}</a>`,
          `${o.kind} ${o.app} → ${o.env}`,
          stateChip(o.state),
          `${ago(o.createdAt, now)} by ${o.requester}`,
        ]),
      )
    : html`<p class="muted">No operations yet.</p>`
}`;
  return { title: 'Environments', body };
}

// ------------------------------------------------------------------ one operation

function summary(detail: Record<string, unknown>): string {
  return Object.entries(detail ?? {})
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ')
    .slice(0, 600);
}

export async function operationPage(data: BoardData, vis: Visibility, id: string): Promise<PageResult> {
  const { runtime } = data;
  const op = OPERATION_ID.test(id) ? await runtime.store.findOperation(id) : null;
  // An operation the viewer may not see is answered like one that does not exist.
  if (!op || !vis.operation(op)) throw new NotFoundError(`no operation ${id}`);
  const [approvals, audit, live] = await Promise.all([
    runtime.store.approvals(op.id),
    runtime.store.auditLog({ operationId: op.id, limit: 500 }),
    runtime.store.liveStates(),
  ]);
  const web: WebLinks | null = webLinksFor(runtime.config, op.app, runtime.git.get(op.app)?.kind);
  const commit = (sha: string | null | undefined) =>
    sha ? link(fillTemplate(web?.commit, { sha }), html`<span class="mono">${shortSha(sha)}</span>`) : html`—`;
  const tagLink = (tag: string | null | undefined) => (tag ? link(fillTemplate(web?.tag, { tag }), tag) : html`—`);
  const plan = op.plan;
  const p = op.progress;
  const facts: [string, SafeHtml | string][] = [
    ['state', stateChip(op.state)],
    ['kind', op.kind],
    ['environment', op.env],
    ['asked by', op.requester],
    ['asked at', `${op.createdAt} (${ago(op.createdAt, runtime.clock.now())})`],
  ];
  if (op.expiresAt && !FINAL_STATES.has(op.state)) facts.push(['expires at', op.expiresAt]);
  if (isGitPlan(plan)) {
    facts.push(['app', op.app], ['from', html`${tagLink(plan.fromTag)} · ${commit(plan.targetHead)}`]);
    facts.push([
      'to',
      html`${plan.toTag ?? ''} ${commit(plan.sourceSha)}${plan.sourceEnv ? ` (from ${plan.sourceEnv})` : ''}`,
    ]);
    // A plain remote has no pull requests: Conveyor's gate stands in for the review.
    const viaPr =
      data.runtime.git.get(op.app)?.openPullRequest === undefined
        ? ", a pull-request environment (this remote has none: Conveyor's gate stands in)"
        : `, via pull request${op.progress.prNumber ? ` #${op.progress.prNumber}` : ''}`;
    facts.push(['how', `${plan.mode}${plan.viaPullRequest ? viaPr : ''}${plan.emergency ? ', EMERGENCY' : ''}`]);
    const compare = plan.targetHead && fillTemplate(web?.compare, { from: plan.targetHead, to: plan.sourceSha });
    if (compare) facts.push(['compare', link(compare, 'changes between the two versions')]);
    if (plan.ticket) facts.push(['ticket', plan.ticket]);
    if (plan.reason) facts.push(['reason', plan.reason]);
    if (p.prUrl) facts.push(['pull request', link(p.prUrl, p.prUrl)]);
    if (p.tag) facts.push(['deploy tag', tagLink(p.tag)]);
    const written = p.deployedSha ?? p.mergeSha ?? p.newSha;
    if (written) facts.push(['commit written', commit(written)]);
  } else {
    facts.push(['journal', `${plan.fromVersion ?? '(none)'} → ${plan.toVersion}`], ['key', plan.key]);
    if (plan.reason) facts.push(['reason', plan.reason]);
  }
  if (op.error) facts.push(['error', op.error]);
  else if (typeof p.lastError === 'string' && !FINAL_STATES.has(op.state))
    facts.push(['paused', `${p.lastError} (Conveyor retries automatically)`]);
  const steps: string[] = [];
  if (isGitPlan(plan)) {
    if (p.newSha) steps.push(`commit ${shortSha(p.newSha)} prepared`);
    if (p.replanned) steps.push('the branch moved under the operation: planned again');
    if (p.prNumber) steps.push(`pull request #${p.prNumber} opened`);
    if (p.mergeSha) steps.push(`merged as ${shortSha(p.mergeSha)}`);
    if (p.tag) steps.push(`tagged ${p.tag}`);
    if (p.deployedSha) steps.push(`${op.env} at ${shortSha(p.deployedSha)}`);
  }
  if (typeof p.lastStep === 'string') steps.push(`last step done: ${p.lastStep}`);
  const required = p.requiredRoles ?? {};
  const timeline = [...audit].reverse();
  const verification = timeline.filter(
    (e) => e.action === 'operation.verifying' || (e.detail as { from?: string })?.from === 'verifying',
  );
  const liveRow = live.find((l) => l.app === op.app && l.env === op.env);
  const body = html`<h1>${operationHeadline(op)}</h1>
<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
${
  isGitPlan(plan) && plan.commits.length
    ? html`<h2>${plan.commitCount} commit(s)</h2><ul>${plan.commits.map(
        (c) => html`<li>${commit(c.sha)} ${c.subject} <span class="muted">— ${c.author}</span></li>`,
      )}${plan.commitCount > plan.commits.length ? html`<li>…and ${plan.commitCount - plan.commits.length} more</li>` : ''}</ul>`
    : ''
}
<h2>Approvals</h2>
${
  Object.keys(required).length || approvals.length
    ? html`<ul>${Object.entries(required).map(([role, n]) => {
        const given = approvals.filter((a) => a.role === role);
        return html`<li><strong>${role}</strong>: ${given.length}/${n}${given.length ? html` — ${given.map((a) => `${a.userId} at ${a.at}`).join(', ')}` : ''}</li>`;
      })}${approvals
        .filter((a) => !(a.role in required))
        .map((a) => html`<li><strong>${a.role}</strong>: ${a.userId} at ${a.at}</li>`)}</ul>`
    : html`<p class="muted">No approval needed.</p>`
}
<h2>Steps</h2>
${steps.length ? html`<ul>${steps.map((s) => html`<li>${s}</li>`)}</ul>` : html`<p class="muted">No step done yet.</p>`}
<h2>Verification</h2>
${
  verification.length
    ? html`<ul>${verification.map((e) => html`<li>${e.at}: ${e.action.replace('operation.', '')} ${summary(e.detail)}</li>`)}</ul>`
    : html`<p class="muted">Not verified by the controller${isGitPlan(plan) ? '' : ' (journal operations are checked by their import agents)'}.</p>`
}
${liveRow ? html`<p>Live state of ${op.app} in ${op.env}: <span class="s-${liveRow.state}">${liveRow.state}</span></p>` : ''}
<h2>Timeline</h2>
<ol class="timeline">${timeline.map(
    (e) =>
      html`<li><time datetime="${e.at}">${e.at.replace('T', ' ').slice(0, 19)}</time> · <strong>${e.action}</strong> by ${e.actor}${
        Object.keys(e.detail ?? {}).length ? html`<div class="muted">${summary(e.detail)}</div>` : ''
      }</li>`,
  )}</ol>`;
  return { title: `${op.kind} ${op.app} ${op.env} (${op.id})`, body };
}

// ------------------------------------------------------------------ history

export interface HistoryFilter {
  app?: string;
  env?: string;
  state?: string;
  kind?: string;
}

function select(name: string, label: string, options: string[], chosen: string | undefined): SafeHtml {
  return html`<label for="f-${name}">${label}<select id="f-${name}" name="${name}"><option value="">any</option>${options.map(
    (o) => html`<option${o === chosen ? html` selected` : ''}>${o}</option>`,
  )}</select></label>`;
}

export async function historyPage(data: BoardData, vis: Visibility, f: HistoryFilter): Promise<PageResult> {
  const { runtime } = data;
  const apps = runtime.config.apps.map((a) => a.name);
  const envs = [...vis.envs, ...vis.journalEnvs];
  const kinds = ['promote', 'rollback', 'journal-promote', 'journal-rollback', 'journal-seed'];
  // A filter value that names nothing is a mistake to show, not a filter to drop silently.
  const unknown = (
    [
      ['app', f.app, apps],
      ['env', f.env, envs],
      ['state', f.state, OPERATION_STATES as readonly string[]],
      ['kind', f.kind, kinds],
    ] as const
  ).find(([, value, known]) => value && !known.includes(value));
  if (unknown)
    throw Object.assign(
      new Error(`${unknown[0]}: one of ${unknown[2].join(', ')}${unknown[0] === 'env' ? ' (that you may see)' : ''}`),
      { status: 400 },
    );
  const ops = (
    await runtime.store.operations({
      app: f.app && apps.includes(f.app) ? f.app : undefined,
      env: f.env && envs.includes(f.env) ? f.env : undefined,
      states:
        f.state && (OPERATION_STATES as readonly string[]).includes(f.state)
          ? [f.state as Operation['state']]
          : undefined,
      kinds: f.kind && kinds.includes(f.kind) ? [f.kind as Operation['kind']] : undefined,
      limit: 300,
    })
  )
    .filter((o) => vis.operation(o))
    .slice(0, 100);
  const now = runtime.clock.now();
  const approvals = await Promise.all(ops.map((o) => runtime.store.approvals(o.id)));
  const body = html`<h1>History</h1>
<form class="filters" method="get" action="/history" role="search" aria-label="Filter operations">
${select('app', 'App', apps, f.app)}${select('env', 'Environment', envs, f.env)}
${select('state', 'State', [...OPERATION_STATES], f.state)}${select('kind', 'Kind', kinds, f.kind)}
<button type="submit">Filter</button></form>
${
  ops.length
    ? table(
        'Operations, newest first',
        ['operation', 'kind', 'app', 'env', 'asked by', 'when', 'state', 'approvers', 'note'],
        ops.map((o, i) => [
          html`<a href="/ops/${o.id}">${o.id}</a>`,
          o.kind,
          o.app,
          o.env,
          o.requester,
          html`<time datetime="${o.createdAt}">${ago(o.createdAt, now)}</time>`,
          stateChip(o.state),
          approvals[i]!.map((a) => `${a.userId} (${a.role})`).join(', ') || '—',
          o.error ?? '',
        ]),
      )
    : html`<p>No operation matches.</p>`
}`;
  return { title: 'History', body };
}

// ------------------------------------------------------------------ audit

export interface AuditFilter {
  since?: string;
  action?: string;
  actor?: string;
  operation?: string;
}

/** Audit lines the viewer may see, newest first (at most `limit`). */
export async function visibleAudit(
  data: BoardData,
  vis: Visibility,
  q: Parameters<typeof queryAudit>[1],
): Promise<AuditEntry[]> {
  return filterVisible(data, vis, await queryAudit(data.db, q));
}

/** The lines of `rows` the viewer may see. */
export async function filterVisible(data: BoardData, vis: Visibility, rows: AuditEntry[]): Promise<AuditEntry[]> {
  if (vis.everything) return rows;
  const ids = [...new Set(rows.map((r) => r.operationId).filter((x): x is string => Boolean(x)))];
  const ops = new Map<string, Operation>();
  for (const id of ids) {
    const op = await data.runtime.store.findOperation(id);
    if (op) ops.set(id, op);
  }
  return rows.filter((r) => vis.audit(r, (id) => ops.get(id)));
}

export function auditQuery(
  f: AuditFilter,
  now: Date,
): { since?: string; action?: string; actor?: string; operationId?: string } {
  const since = f.since ? parseSince(f.since, now) : null;
  if (f.since && !since)
    throw Object.assign(new Error(`since: ${SINCE_FORMS}`), {
      status: 400,
    });
  if (f.action && f.action.length > 81)
    throw Object.assign(new Error('action: at most 81 characters'), { status: 400 });
  if (f.action && !/^[a-z][a-z0-9.-]{0,80}$/.test(f.action))
    throw Object.assign(new Error('action: letters, digits, dots and dashes'), { status: 400 });
  if (f.actor && f.actor.length > 100) throw Object.assign(new Error('actor: at most 100 characters'), { status: 400 });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (f.actor && /[\u0000-\u001f\u007f]/.test(f.actor))
    throw Object.assign(new Error('actor: printable characters only'), { status: 400 });
  if (f.operation && !OPERATION_ID.test(f.operation))
    throw Object.assign(new Error('operation: an operation id (op_…)'), { status: 400 });
  return {
    since: since ?? undefined,
    action: f.action || undefined,
    actor: f.actor || undefined,
    operationId: f.operation || undefined,
  };
}

export async function auditPage(data: BoardData, vis: Visibility, f: AuditFilter): Promise<PageResult> {
  const q = auditQuery(f, data.runtime.clock.now());
  const rows = await visibleAudit(data, vis, { ...q, order: 'desc', limit: 200 });
  const input = (name: keyof AuditFilter, label: string, hint: string) =>
    html`<label for="a-${name}">${label}<input id="a-${name}" name="${name}" value="${f[name] ?? ''}" placeholder="${hint}"></label>`;
  const body = html`<h1>Audit log</h1>
<form class="filters" method="get" action="/audit" role="search" aria-label="Filter the audit log">
${input('since', 'Since', '24h, 7d or 2026-11-25')}${input('action', 'Action', 'operation. or approval.given')}
${input('actor', 'Actor', 'U012ABCDEF')}${input('operation', 'Operation', 'op_…')}
<button type="submit">Filter</button></form>
<p class="muted">Newest first, at most 200 lines. Everything since a time, as NDJSON: <code>GET /api/audit?since=…</code>.</p>
${
  rows.length
    ? table(
        'Audit log',
        ['when', 'actor', 'action', 'operation', 'detail'],
        rows.map((e) => [
          html`<time datetime="${e.at}">${e.at.replace('T', ' ').slice(0, 19)}</time>`,
          e.actor,
          e.action,
          e.operationId ? html`<a href="/ops/${e.operationId}">${e.operationId}</a>` : '—',
          summary(e.detail),
        ]),
      )
    : html`<p>No audit line matches.</p>`
}`;
  return { title: 'Audit log', body };
}

// ------------------------------------------------------------------ journals

export async function journalsPage(data: BoardData, vis: Visibility): Promise<PageResult> {
  if (!data.runtime.config.journal)
    return { title: 'Journals', body: html`<h1>Journals</h1><p>No journal chain is configured.</p>` };
  if (!vis.journalEnvs.size)
    return {
      title: 'Journals',
      body: html`<h1>Journals</h1><p>Your roles give you no journal environment to see.</p>`,
    };
  const section = async (name: string) => {
    try {
      return replyTables(await runCommand(data, name, vis.viewer.user), (env) => vis.journalEnvs.has(env));
    } catch (err) {
      if (isConveyorError(err)) return html`<p>${(err as Error).message}</p>`;
      throw err;
    }
  };
  const body = html`<h1>Journals</h1>
<h2>Pointers per environment</h2>
${await section('journal status')}
<h2>Versions</h2>
${await section('journal list')}`;
  return { title: 'Journals', body };
}
