/** A Clock port that says what the test tells it. */
import type { Clock } from '../../src/core/ports.js';

export class FixedClock implements Clock {
  constructor(private at: Date = new Date('2025-03-05T12:00:00Z')) {}
  now(): Date {
    return new Date(this.at);
  }
  set(at: Date | string): void {
    this.at = new Date(at);
  }
  advance(ms: number): void {
    this.at = new Date(this.at.getTime() + ms);
  }
}
