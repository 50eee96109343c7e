/**
 * Files of a node that none of its packages owns: put there by hand, by a scriptlet, or left by an
 * earlier tool. rpm -V cannot see them, so `check --unowned` lists them. The node's own state is
 * not content and is skipped: its status and config files, repository files, rpm database, dnf
 * records, cache, the redpak working directories, and child nodes (checked on their own).
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_CONFIG,
  LEGACY_ADMIN_CONFIG,
  LEGACY_NORMAL_CONFIG,
  NORMAL_CONFIG,
  REDPAK_DIR,
  REPOS_DIR,
  RPMDB_DIR,
  STAGE_DIR,
  STATUS_FILE,
} from '../node/layout.js';
import { isNodeDir } from '../node/load.js';
import { LOCK_FILE } from '../pkg/lock.js';
import { usrLinkTargets } from '../pkg/view.js';

/** Node-relative paths that are the node's own state, not packaged content (.redpak: package generations, and launch caches of older versions). */
const NODE_STATE = new Set([
  STATUS_FILE,
  NORMAL_CONFIG,
  ADMIN_CONFIG,
  LEGACY_NORMAL_CONFIG,
  LEGACY_ADMIN_CONFIG,
  REPOS_DIR,
  RPMDB_DIR,
  'var/lib/dnf',
  'var/cache',
  REDPAK_DIR,
  STAGE_DIR,
  LOCK_FILE,
]);

/**
 * Files and links below `nodeRoot` that are in no package's file list (`owned`: the paths rpm
 * records). A package's /bin/x lands in usr/bin/x when the host merges /usr, as the staged apply
 * reproduces it. Directories are not reported: an empty or extra directory holds nothing.
 */
export function unownedFiles(nodeRoot: string, owned: ReadonlySet<string>): string[] {
  const links = usrLinkTargets();
  const landed = new Set(
    [...owned].map((path) => {
      const [, top, ...rest] = path.split('/');
      const target = links[top ?? ''];
      return target ? `/${target.replace(/^\/+/, '')}/${rest.join('/')}` : path;
    }),
  );
  const isOwned = (path: string) => owned.has(path) || landed.has(path);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(nodeRoot, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (NODE_STATE.has(r)) continue;
      const full = join(nodeRoot, r);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        if (!isNodeDir(full)) walk(r);
      } else if (!isOwned(`/${r}`)) out.push(`/${r}`);
    }
  };
  walk('');
  return out;
}
