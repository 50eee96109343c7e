/**
 * The bubblewrap binary, decided once at build time: scripts/build-launcher.sh writes
 * `command -v bwrap` to dist/bwrap-path and compiles the same path into the fast launcher
 * (-DBWRAP_PATH), which never reads it from a plan. The full CLI's default is this value, so
 * both launch paths run the same binary.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.js';

/** Upstream redpak's BWRAP_CMD_PATH: used only when the build did not record a path. */
const UPSTREAM_BWRAP = '/usr/bin/bwrap';

function builtBwrapPath(): string {
  try {
    const path = readFileSync(packagePath('dist/bwrap-path'), 'utf8').trim();
    if (path.startsWith('/')) return path;
  } catch {
    // not built yet: upstream's default
  }
  return UPSTREAM_BWRAP;
}

export const DEFAULT_BWRAP = builtBwrapPath();
