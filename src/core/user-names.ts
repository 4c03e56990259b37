/**
 * User ids as names for text surfaces (the CLI, `history`, `list`): the Directory's name when it
 * has one (Slack's users.info, cached), the id otherwise. Slack messages mention people instead.
 */
import type { Directory } from './ports.js';

const SLACK_USER = /^[UW][A-Z0-9_]{2,20}$/;

/** A function from id to display name, for these ids (looked up once each, in parallel). */
export async function userNames(
  directory: Pick<Directory, 'nameOf'>,
  ids: Iterable<string | null | undefined>,
): Promise<(id: string) => string> {
  const unique = [...new Set([...ids].filter((id): id is string => Boolean(id) && SLACK_USER.test(id!)))];
  const names = new Map<string, string>();
  if (directory.nameOf && unique.length) {
    const found = await Promise.all(unique.map((id) => directory.nameOf!(id).catch(() => null)));
    unique.forEach((id, i) => {
      const name = found[i];
      if (name) names.set(id, name);
    });
  }
  return (id) => names.get(id) ?? id;
}
