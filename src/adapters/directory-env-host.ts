/**
 * The directory strategy as a GitHost: environments are folders of one branch
 * (`gitops.paths: { qa: envs/qa, … }`). The version of an environment is its folder's tree
 * without the files listed in `gitops.envSpecific` (each environment keeps its own); promote makes
 * the target folder equal to the source's, those files kept, in one commit. Everything else —
 * version branches `conveyor/<app>/<env>`, deploy tags `<app>/<env>/…`, recording changes made
 * by hand, the compare-and-swap pushes — is the image strategy's view (./image-env-host.ts).
 */
import { InputError } from '../core/errors.js';
import { ImageEnvHost } from './image-env-host.js';

export class DirectoryEnvHost extends ImageEnvHost {
  /** A folder's version is a tree, not an image: diff and --dry-run use the generic Git words. */
  override async compareVersions(): Promise<null> {
    return null;
  }

  override async describeWrite(): Promise<null> {
    return null;
  }

  private folder(env: string): string {
    const folder = this.app.gitops?.paths[env];
    if (!folder) throw new InputError(`${this.app.name} has no folder for ${env}`);
    return folder.replace(/\/+$/, '');
  }

  private get envSpecific(): string[] {
    return this.app.gitops?.envSpecific ?? [];
  }

  /** The folder's tree without the environment's own files. */
  protected override async observe(env: string, head: string) {
    const folder = this.folder(env);
    let tree = await this.objects.subtree(head, folder);
    if (!tree) return null;
    for (const path of this.envSpecific) {
      if (await this.objects.entryAt(tree, path)) tree = await this.objects.setPath(tree, path, null);
    }
    return { tree, label: `${folder} ${tree.slice(0, 8)}`, file: `${folder}/` };
  }

  /** The target folder becomes the version's tree plus the target's own environment-specific files. */
  protected override async writeEnvironment(env: string, versionSha: string, why: string): Promise<boolean> {
    const folder = this.folder(env);
    const version = await this.inner.treeOf(versionSha);
    return this.commitToGitops(`${this.app.name}: ${env} → ${version.slice(0, 8)}`, why, async (head) => {
      const current = await this.objects.subtree(head, folder);
      let next = version;
      for (const path of this.envSpecific) {
        const own = current ? await this.objects.entryAt(current, path) : null;
        next = await this.objects.setPath(next, path, own);
      }
      if (next === current) return null;
      return this.objects.setPath(await this.objects.rootOf(head), folder, { mode: '040000', type: 'tree', sha: next });
    });
  }
}
