import { describe, expect, it } from 'vitest';
import { nextDeployTag } from '../../src/core/deploy-tag.js';

const DAY = new Date('2026-11-26T10:00:00Z');
const FORMAT = '{env}/{yyyy}.{mm}.{dd}.{n}';

describe('nextDeployTag', () => {
  it("numbers today's deploys one past the highest, whatever else the environment holds", () => {
    expect(nextDeployTag(FORMAT, 'qa', DAY, [])).toBe('qa/2026.11.26.1');
    const existing = [
      'qa/2026.11.26.2',
      'qa/2026.11.26.10', // not the longest string's number: the highest number
      'qa/2026.11.26.9',
      'qa/2026.11.25.40', // yesterday
      'prod/2026.11.26.77', // another environment
      'qa/2026.11.26.07', // not a number Conveyor writes
      'qa/2026.11.26.3-hotfix',
      'qa/2026x11x26.50', // the dots are dots
    ];
    expect(nextDeployTag(FORMAT, 'qa', DAY, existing)).toBe('qa/2026.11.26.11');
  });

  it('reads thousands of tags of an environment deployed for years in one pass', () => {
    const years = Array.from(
      { length: 20_000 },
      (_, i) => `prod/2025.${String((i % 12) + 1).padStart(2, '0')}.01.${i}`,
    );
    const today = Array.from({ length: 3_000 }, (_, i) => `prod/2026.11.26.${i + 1}`).reverse();
    expect(nextDeployTag(FORMAT, 'prod', DAY, [...years, ...today])).toBe('prod/2026.11.26.3001');
  });

  it('a format with {n} twice counts the same number in both places', () => {
    const format = 'deploy/{env}/{yyyy}{mm}{dd}-{n}/{n}';
    const existing = ['deploy/qa/20261126-1/1', 'deploy/qa/20261126-4/4', 'deploy/qa/20261126-9/2'];
    expect(nextDeployTag(format, 'qa', DAY, existing)).toBe('deploy/qa/20261126-5/5');
  });
});
