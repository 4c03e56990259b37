/** People and their groups (Slack user groups). */
export interface Directory {
  /** Ids of the user groups (e.g. Slack "S0123") the user belongs to. */
  groupsOf(userId: string): Promise<string[]>;
  /**
   * The name people know a user by (Slack: display name, else real name, from `users.info`,
   * cached); null when there is none to give, and callers show the id.
   */
  nameOf?(userId: string): Promise<string | null>;
}

export const emptyDirectory: Directory = { groupsOf: async () => [] };
