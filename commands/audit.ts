import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { InputError } from '../src/core/errors.js';
import { ago, truncate } from '../src/core/format.js';
import type { Operation } from '../src/core/operation.js';
import type { AuditEntry } from '../src/core/ports.js';
import { okReply } from '../src/core/reply.js';
import { parseSince, SINCE_FORMS } from '../src/core/since.js';
import { SANDBOX_VIEWER, Visibility, viewerFor } from '../src/core/visibility.js';

const SHOWN = 30;
const READ = 1000;

function detailText(detail: Record<string, unknown>): string {
  return truncate(
    Object.entries(detail ?? {})
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' · '),
    80,
  );
}

export const audit = defineCommand({
  name: 'audit',
  summary: 'Show the audit log: who did what, newest first',
  usage: 'audit [--since <24h|7d|2026-11-25|ISO time>] [--action <action or prefix.>]',
  help:
    'The newest audit lines (at most 30) since a time (default: the last 24 hours): when, who, what, the operation and details. ' +
    'Only lines of the environments your roles may see (the same rule as the web board). ' +
    '`--action operation.` keeps one kind of line. Everything, as NDJSON: GET /api/audit?since=… with a personal token.',
  positionals: [],
  flags: {
    since: { type: 'string', description: 'from when: 24h, 7d, a date (2026-11-25) or an ISO time' },
    action: { type: 'string', description: 'an action (approval.given) or a prefix ending in a dot (operation.)' },
  },
  schema: z.object({
    since: z.string().max(40).optional(),
    action: z
      .string()
      .regex(/^[a-z][a-z0-9.-]{0,80}$/, 'an action such as approval.given, or a prefix such as operation.')
      .optional(),
  }),
  mutates: false,
  async run(args, ctx) {
    const { runtime } = ctx;
    const now = runtime.clock.now();
    const since = parseSince(args.since ?? '24h', now);
    if (!since) throw new InputError(`--since: ${SINCE_FORMS}`);
    const viewer = runtime.sandbox ? SANDBOX_VIEWER : viewerFor(runtime.config, ctx.user);
    const vis = new Visibility(runtime.config, viewer);
    const lines = (await runtime.store.auditLog({ limit: READ })).filter(
      (e) =>
        e.at >= since &&
        (!args.action || (args.action.endsWith('.') ? e.action.startsWith(args.action) : e.action === args.action)),
    );
    const ops = new Map<string, Operation | null>();
    const shown: AuditEntry[] = [];
    for (const e of lines) {
      if (shown.length >= SHOWN) break;
      if (e.operationId && !ops.has(e.operationId))
        ops.set(e.operationId, await runtime.store.findOperation(e.operationId));
      if (vis.audit(e, (id) => ops.get(id) ?? undefined)) shown.push(e);
    }
    const from = args.since ? `since ${args.since}` : 'in the last 24 hours';
    return okReply(
      shown.length ? `Audit log ${from}: ${shown.length} line(s), newest first` : `No audit line you may see ${from}`,
      shown.length
        ? [
            {
              type: 'table',
              header: ['when', 'who', 'action', 'operation', 'detail'],
              rows: shown.map((e) => [ago(e.at, now), e.actor, e.action, e.operationId ?? '—', detailText(e.detail)]),
            },
          ]
        : [],
      { data: { lines: shown } },
    );
  },
});
