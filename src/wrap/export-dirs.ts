/**
 * Missing export directories, created before a launch (redpak creates them too). A directory the
 * launching user may not create is an error that names the export, the node and file that
 * declare it, and the path, before anything runs; directories this launch created are removed
 * again. Trust: the paths come from the family's configs (written by the family's owner, and in
 * admin mode by anything running in a node), so they are created with the caller's rights only
 * and never followed into being anything but directories.
 */
import { chownSync, existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RedpakError } from '../errors.js';
import type { Origin } from '../merge/types.js';
import type { LaunchPlan } from './plan.js';

/** The export whose source is `dir`, from the plan's provenance (every bind is `--X SOURCE MOUNT`). */
function exportOf(plan: LaunchPlan, dir: string): { what: string; origin: Origin } | undefined {
  return plan.provenance.find((p) => p.what.startsWith('export ') && plan.args[p.arg + 1] === dir);
}

/** The deepest existing directory above `dir`: the one that refused the new entry. */
function existingParent(dir: string): string {
  let d = dirname(dir);
  while (!existsSync(d) && d !== '/') d = dirname(d);
  return d;
}

function creationError(plan: LaunchPlan, dir: string, hostDir: string, uid: number, error: NodeJS.ErrnoException) {
  const found = exportOf(plan, dir);
  const origin = found?.origin;
  const who = origin ? ` of ${origin.alias} (${origin.node})` : '';
  const what = found?.what ?? 'export';
  const denied = error.code === 'EACCES' || error.code === 'EPERM' || error.code === 'EROFS';
  const parent = existingParent(hostDir);
  return new RedpakError(
    'launch',
    `cannot create ${hostDir}, the missing source directory of ${what}${who}: ${
      denied ? `${parent} is not writable by uid ${uid}` : error.message
    }`,
    {
      at: origin?.at,
      hint: denied
        ? `create ${hostDir} as a user who may (and give it to uid ${uid}), point the export at a directory uid ${uid} may create, or launch with --strict to leave out exports whose directory is missing`
        : undefined,
      cause: error,
    },
  );
}

/**
 * Creates the plan's missing export directories (`toHost` maps a plan path to the host's, for
 * a sysroot), each with its missing parents, mode 0775 and owned by the launched user. All or
 * nothing: on a failure, the directories created here are removed and the error says which
 * export needed what. `warn` receives a chown failure (the directory exists, owned by the caller).
 */
export function createExportDirs(
  plan: LaunchPlan,
  toHost: (path: string) => string,
  owner: { uid: number; gid: number },
  warn: (message: string) => void,
): void {
  const created: string[] = [];
  try {
    for (const dir of plan.mkdirs) {
      const hostDir = toHost(dir);
      const missing: string[] = [];
      for (let d = hostDir; !existsSync(d); d = dirname(d)) missing.unshift(d);
      for (const d of missing) {
        try {
          mkdirSync(d, { mode: 0o775 });
        } catch (error) {
          throw creationError(plan, dir, hostDir, process.geteuid?.() ?? owner.uid, error as NodeJS.ErrnoException);
        }
        created.push(d);
        try {
          chownSync(d, owner.uid, owner.gid);
        } catch (error) {
          warn(`cannot give ${d} to ${owner.uid}:${owner.gid}: ${(error as Error).message}`);
        }
      }
    }
  } catch (error) {
    for (const d of created.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // no longer empty or gone: left as it is
      }
    }
    throw error;
  }
}
