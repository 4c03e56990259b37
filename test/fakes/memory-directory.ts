/** A Directory port (user groups) held in memory. */
import type { Directory } from '../../src/core/ports.js';

export class MemoryDirectory implements Directory {
  constructor(private readonly groups: Record<string, string[]> = {}) {}
  async groupsOf(userId: string): Promise<string[]> {
    return this.groups[userId] ?? [];
  }
}
