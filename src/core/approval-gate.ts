/**
 * Approval gates: which roles must approve, who may fill them, whether a quorum is reached,
 * and freeze windows. Approvals are counted by distinct eligible people, never by clicks:
 * the requester never counts, one person fills one role, and only approvals of the version
 * that will ship count (they lapse when it changes).
 */
import type { Config, GateConfig } from '../config/schema.js';
import type { Operation } from './operation.js';
import { isGitPlan } from './operation.js';
import { okReply, type Reply } from './reply.js';
import type { Runtime } from './runtime.js';
import type { ApprovalRow } from '../store/state-store.js';

export interface RoleProgress {
  role: string;
  needed: number;
  approvers: string[];
}

export interface QuorumStatus {
  roles: RoleProgress[];
  satisfied: boolean;
  missing: string[];
  /** Who can fill each missing role (set where the configuration is at hand): the ones to mention. */
  waitingFor?: { role: string; users: string[]; groups: string[] }[];
}

/**
 * The people to mention for each role still missing: its named users who may still approve
 * (never the requester, nobody who approved already); its user groups only where it names no
 * user, so a group is not pinged when one named person can fill the role.
 */
export function withWaitingFor(status: QuorumStatus, config: Pick<Config, 'roles'>, requester: string): QuorumStatus {
  const approved = new Set(status.roles.flatMap((r) => r.approvers));
  const waitingFor = status.roles
    .filter((r) => r.approvers.length < r.needed)
    .map((r) => {
      const who = config.roles[r.role];
      const users = (who?.users ?? []).filter((u) => u !== requester && !approved.has(u));
      return { role: r.role, users, groups: users.length ? [] : (who?.groups ?? []) };
    });
  return { ...status, waitingFor };
}

export function requiredRoles(gate: GateConfig, kind: Operation['kind'], emergency: boolean): Record<string, number> {
  if ((kind === 'rollback' || kind === 'journal-rollback') && gate.rollbackRoles && (emergency || kind === 'journal-rollback')) {
    return gate.rollbackRoles;
  }
  return gate.roles;
}

export interface TicketPolicy {
  mode: 'none' | 'optional' | 'required';
  /** Check the ticket in ServiceNow (at request, and again right before the first write). */
  verify: boolean;
}

/** `changeTicket: required` (verified) or `{ required: true, verify: false }` (recorded, not checked). */
export function ticketPolicy(gate: GateConfig): TicketPolicy {
  const t = gate.changeTicket;
  if (typeof t === 'string') return { mode: t, verify: t !== 'none' };
  return { mode: t.required ? 'required' : 'optional', verify: t.verify };
}

/** The version approvals are for: the tree that will ship (git), or the journal version. */
export function approvalSubject(op: Operation): string {
  return isGitPlan(op.plan) ? op.plan.sourceTree : op.plan.toVersion;
}

export async function rolesOf(runtime: Pick<Runtime, 'config' | 'directory'>, user: string): Promise<string[]> {
  const groups = new Set(await runtime.directory.groupsOf(user).catch(() => [] as string[]));
  return Object.entries(runtime.config.roles)
    .filter(([, who]) => who.users.includes(user) || who.groups.some((g) => groups.has(g)))
    .map(([role]) => role);
}

export function quorum(required: Record<string, number>, approvals: ApprovalRow[], subject: string, requester: string): QuorumStatus {
  const valid = approvals.filter((a) => a.sha === subject && a.userId !== requester);
  const seen = new Set<string>();
  const roles: RoleProgress[] = Object.entries(required).map(([role, needed]) => {
    const approvers: string[] = [];
    for (const a of valid) {
      if (a.role !== role || seen.has(a.userId) || approvers.length >= needed) continue;
      seen.add(a.userId);
      approvers.push(a.userId);
    }
    return { role, needed, approvers };
  });
  const missing = roles.filter((r) => r.approvers.length < r.needed).map((r) => `${r.needed - r.approvers.length} ${r.role}`);
  return { roles, satisfied: missing.length === 0, missing };
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Weekday (sun…sat) and minutes since midnight of `now` on the wall clock of `timeZone`. */
function wallClock(now: Date, timeZone: string): { day: number; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: DAYS.indexOf(get('weekday').toLowerCase().slice(0, 3)), minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * The reason of the freeze in force at `now`, or null. Weekly windows are read on the wall
 * clock of their time zone (default UTC); one whose `to` is before its `from` crosses midnight
 * and belongs to the day it starts on.
 */
export function activeFreeze(gate: GateConfig, now: Date): string | null {
  for (const f of gate.freezes) {
    if ('weekly' in f) {
      const { day, minutes } = wallClock(now, f.weekly.timeZone ?? 'UTC');
      const from = toMinutes(f.weekly.from);
      const to = toMinutes(f.weekly.to);
      const on = (d: number) => f.weekly.days.includes(DAYS[(d + 7) % 7] as never);
      const inside = from < to ? on(day) && minutes >= from && minutes <= to : (on(day) && minutes >= from) || (on(day - 1) && minutes <= to);
      if (inside) return f.reason;
    } else if (now >= new Date(f.from) && now <= new Date(f.to)) {
      return f.reason;
    }
  }
  return null;
}

/** Operations waiting for an approval this viewer could give (App Home, `list`). */
export async function pendingApprovalsFor(runtime: Runtime, viewer: string): Promise<Reply> {
  const mine = new Set(await rolesOf(runtime, viewer));
  const waiting = await runtime.store.operations({ states: ['awaiting-approval'], limit: 200 });
  const items: string[] = [];
  for (const op of waiting) {
    if (op.requester === viewer) continue;
    const missing = Object.keys(op.progress.requiredRoles ?? {}).filter((r) => mine.has(r));
    if (missing.length) items.push(`${op.id}: ${op.kind} ${op.app} → ${op.env} (asked by ${op.requester}; you can approve as ${missing.join(' or ')})`);
  }
  return okReply(items.length ? `${items.length} operation(s) wait for you` : 'Nothing waits for your approval', items.length ? [{ type: 'list', items }] : []);
}
