/**
 * Where the system tools the product runs are found. A user's PATH usually lacks the sbin
 * directories (Debian's default user PATH is /usr/local/bin:/usr/bin:/bin), where ldconfig and
 * others live, so a tool is looked up in the standard system directories first, then in PATH.
 *
 * Trust: the system directories are written by root only. PATH is the caller's own environment,
 * so a tool found there runs with the caller's rights, as if the caller had typed it; its
 * relative entries (`.`, empty) are skipped, since the current directory may be a node, which
 * anything running in that node can write.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** Searched in this order, before PATH. */
export const SYSTEM_TOOL_DIRS: readonly string[] = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of the executable `name`, from SYSTEM_TOOL_DIRS then the absolute entries of
 * `path` (the caller's PATH by default); undefined when none has it. A name with a slash is a
 * path already: returned when it is an executable file.
 */
export function findHostTool(name: string, path: string | undefined = process.env.PATH): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  const fromPath = (path ?? '').split(':').filter((dir) => isAbsolute(dir));
  for (const dir of [...SYSTEM_TOOL_DIRS, ...fromPath]) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * What to spawn for the tool `name`: its absolute path when found (findHostTool), else `name`
 * unchanged, so that spawning it fails with ENOENT and the caller reports the tool as missing.
 */
export function hostTool(name: string, path: string | undefined = process.env.PATH): string {
  return findHostTool(name, path) ?? name;
}
