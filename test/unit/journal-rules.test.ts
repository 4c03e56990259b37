import { describe, expect, it } from 'vitest';
import { InputError, NotAllowedError } from '../../src/core/errors.js';
import {
  checkClusterMayWrite,
  checkMandatorScope,
  declaredContent,
  type JournalClusterRule,
  parseJournalMeta,
} from '../../src/journal/journal-rules.js';

const clusters: JournalClusterRule[] = [
  { name: 'dev-modelling', writable: true, mandators: [] },
  { name: 'prod-modelling', writable: true },
  { name: 'qa', writable: false },
];

describe('journal rules', () => {
  it('lets only writable clusters upload, with a message naming who may', () => {
    expect(checkClusterMayWrite('dev-modelling', clusters).name).toBe('dev-modelling');
    expect(() => checkClusterMayWrite('qa', clusters)).toThrow(
      /"qa" is read-only.*dev-modelling, prod-modelling may upload/,
    );
    expect(() => checkClusterMayWrite('nope', clusters)).toThrow(NotAllowedError);
  });

  it('falls back to the two modelling clusters when none are configured', () => {
    expect(checkClusterMayWrite('prod-modelling', []).writable).toBe(true);
    expect(() => checkClusterMayWrite('qa', [])).toThrow(NotAllowedError);
  });

  it('scopes mandators: dev exports tech-head only, prod both (defaults by name)', () => {
    expect(() => checkMandatorScope('dev-modelling', ['tech-head'], clusters)).not.toThrow();
    expect(() => checkMandatorScope('dev-modelling', ['tech-head', 'business-head'], clusters)).toThrow(
      /may not export mandator business-head \(allowed: tech-head\)/,
    );
    expect(() => checkMandatorScope('prod-modelling', ['tech-head', 'business-head'], clusters)).not.toThrow();
  });

  it('uses configured mandators over the defaults', () => {
    const custom: JournalClusterRule[] = [{ name: 'dev-modelling', writable: true, mandators: ['business-head'] }];
    expect(() => checkMandatorScope('dev-modelling', ['tech-head'], custom)).toThrow(NotAllowedError);
    expect(() => checkMandatorScope('dev-modelling', ['business-head'], custom)).not.toThrow();
  });

  it('reads a valid sidecar and explains a bad one', () => {
    expect(parseJournalMeta('{"ticket":"CHG0001234","mandators":["tech-head"]}')).toEqual({
      ticket: 'CHG0001234',
      mandators: ['tech-head'],
    });
    for (const bad of [
      '{',
      '[]',
      '{"ticket":"INC1","mandators":["tech-head"]}',
      '{"ticket":"CHG0001234","mandators":[]}',
      '{"ticket":"CHG0001234","mandators":["ceo"]}',
      '{"ticket":"CHG0001234","mandators":["tech-head"],"extra":1}',
    ]) {
      expect(() => parseJournalMeta(bad)).toThrow(InputError);
    }
    expect(() => parseJournalMeta('{"ticket":"x","mandators":["tech-head"]}')).toThrow(/ticket/);
  });

  it('reads a declared size and sha256 (lower-cased), and refuses a bad one', () => {
    const sha = 'AB'.repeat(32);
    const text = JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'], size: 1024, sha256: sha });
    expect(parseJournalMeta(text)).toMatchObject({ size: 1024, sha256: 'ab'.repeat(32) });
    expect(declaredContent(text)).toEqual({ size: 1024, sha256: 'ab'.repeat(32) });
    // only both together skip the wait for a file to settle
    expect(declaredContent(JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'], size: 1024 }))).toBeNull();
    expect(declaredContent('{"ticket":"CHG0001234","mand')).toBeNull(); // a sidecar still being written
    for (const bad of [{ size: -1 }, { size: 1.5 }, { size: '1024' }, { sha256: 'ab' }, { sha256: 'zz'.repeat(32) }]) {
      const meta = JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'], ...bad });
      expect(() => parseJournalMeta(meta)).toThrow(/metadata sidecar is invalid: .*(size|sha256)/);
    }
  });
});
