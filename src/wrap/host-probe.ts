/** What an export source is on this machine: the `probe` the launch plan compiler (wrap/plan.ts) is given. */
import { statSync } from 'node:fs';
import type { Sysroot } from '../node/layout.js';
import type { Probe } from './plan.js';

/** A directory, anything else (through links), or nothing there. */
export const probeHost =
  (sysroot: Sysroot): Probe =>
  (path) => {
    try {
      return statSync(sysroot.toHost(path)).isDirectory() ? 'dir' : 'file';
    } catch {
      return 'missing';
    }
  };
