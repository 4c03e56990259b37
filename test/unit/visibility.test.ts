/** Who sees what (src/core/visibility.ts), on the sandbox's configuration. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { AuditEntry } from '../../src/core/ports.js';
import { SANDBOX_VIEWER, Visibility, viewerFor } from '../../src/core/visibility.js';
import { SANDBOX_CONFIG } from '../../src/sandbox/sandbox.js';

const config = parseConfig(SANDBOX_CONFIG);
const line = (operationId: string | null, detail: Record<string, unknown> = {}): AuditEntry => ({
  id: 1,
  at: '2026-11-25T00:00:00.000Z',
  actor: 'U_X',
  action: 'x',
  operationId,
  detail,
});

describe('visibility', () => {
  it('roles decide the environments: named roles, or any role where none is named', () => {
    const see = (user: string) => {
      const v = new Visibility(config, viewerFor(config, user));
      return { envs: [...v.envs], journal: [...v.journalEnvs], everything: v.everything };
    };
    expect(see('U_QA')).toEqual({
      envs: ['development', 'qa', 'staging'],
      journal: ['dev', 'qa', 'dit'],
      everything: false,
    });
    expect(see('U_LEAD')).toEqual({ envs: ['development', 'qa', 'prod'], journal: ['dev', 'qa'], everything: false });
    expect(see('U_DEMO')).toEqual({ envs: ['development', 'qa'], journal: ['dev', 'qa'], everything: false });
    expect(see('U_NOBODY')).toEqual({ envs: [], journal: [], everything: false });
    expect(new Visibility(config, SANDBOX_VIEWER).everything).toBe(true);
  });

  it('operations by kind, audit lines by their operation, else their env, else only for everyone-seers', () => {
    const qa = new Visibility(config, viewerFor(config, 'U_QA'));
    expect(qa.operation({ kind: 'promote', env: 'staging' })).toBe(true);
    expect(qa.operation({ kind: 'promote', env: 'prod' })).toBe(false);
    expect(qa.operation({ kind: 'journal-promote', env: 'dit' })).toBe(true);
    expect(qa.operation({ kind: 'journal-promote', env: 'staging' })).toBe(false);
    const ops: Record<string, { kind: string; env: string }> = { op_a: { kind: 'promote', env: 'prod' } };
    expect(qa.audit(line('op_a'), (id) => ops[id])).toBe(false);
    expect(qa.audit(line('op_gone'), (id) => ops[id])).toBe(false);
    expect(qa.audit(line(null, { env: 'staging' }), () => undefined)).toBe(true);
    expect(qa.audit(line(null, { env: 'prod' }), () => undefined)).toBe(false);
    expect(qa.audit(line(null), () => undefined)).toBe(false);
    expect(new Visibility(config, SANDBOX_VIEWER).audit(line(null), () => undefined)).toBe(true);
  });
});
