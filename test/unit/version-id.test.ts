import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import {
  compareVersions,
  formatVersion,
  isVersionId,
  nextVersion,
  parseVersion,
  VERSION_ID,
  versionDay,
} from '../../src/journal/version-id.js';

const day = new Date('2026-11-23T10:00:00Z');

describe('journal version ids', () => {
  it('starts a day at 1 and continues after the highest sequence of that day and cluster', () => {
    expect(nextVersion(day, 'dev-modelling', [])).toBe('2026.11.23-dev-modelling.1');
    expect(
      nextVersion(day, 'dev-modelling', [
        '2026.11.23-dev-modelling.2',
        '2026.11.23-dev-modelling.10',
        '2026.11.23-prod-modelling.40',
        '2026.11.22-dev-modelling.99',
        'garbage',
      ]),
    ).toBe('2026.11.23-dev-modelling.11');
  });

  it('uses the UTC day', () => {
    expect(versionDay(new Date('2026-11-23T23:59:59-05:00'))).toBe('2026.11.24');
  });

  it('parses and validates ids', () => {
    expect(parseVersion('2026.11.23-dev-modelling.3')).toEqual({
      day: '2026.11.23',
      cluster: 'dev-modelling',
      sequence: 3,
    });
    for (const bad of [
      '2026.13.01-dev.1',
      '2026.11.23-Dev.1',
      '2026.11.23-dev',
      '../2026.11.23-dev.1',
      '2026.11.23-dev.1234567',
      '',
    ]) {
      expect(isVersionId(bad)).toBe(false);
      expect(() => parseVersion(bad)).toThrow(InputError);
    }
  });

  it('refuses a cluster name that cannot appear in an id', () => {
    expect(() => nextVersion(day, 'Dev Modelling', [])).toThrow(InputError);
  });

  it('sorts by day, cluster and numeric sequence', () => {
    const ids = ['2026.11.23-dev.10', '2026.11.22-prod.1', '2026.11.23-dev.9', '2026.11.23-ab.5'];
    expect([...ids].sort(compareVersions)).toEqual([
      '2026.11.22-prod.1',
      '2026.11.23-ab.5',
      '2026.11.23-dev.9',
      '2026.11.23-dev.10',
    ]);
  });

  it('always produces a valid id greater than every existing one of the day', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 99_999 }), { maxLength: 20 }), (seqs) => {
        const existing = seqs.map((s) => formatVersion({ day: '2026.11.23', cluster: 'dev', sequence: s }));
        const next = nextVersion(day, 'dev', existing);
        expect(next).toMatch(VERSION_ID);
        for (const e of existing) expect(compareVersions(next, e)).toBeGreaterThan(0);
      }),
    );
  });
});
