/**
 * The addon dist/bin/redpak-kernel.node (src/launcher/redpak-kernel.c): the kernel calls Node has
 * no function for or makes slow, where the build made it (a C compiler and Node's headers). Each
 * user keeps a way without it: system/kernel-calls.ts (flock, syncfs) runs a tool,
 * system/cache-file.ts (stamps) asks Node's fs.
 *
 * Trust: the addon is part of this package, loaded from the package's own directory (written by
 * whoever installed the package).
 */
import { existsSync } from 'node:fs';
import { packagePath } from '../package-root.js';

export interface KernelAddon {
  tryLockExclusive(fd: number): boolean;
  syncFilesystem(fd: number): void;
  /**
   * stat(2) (follow) or lstat(2) of `path` into `out`: mode, size, mtime seconds and nanoseconds,
   * ctime seconds and nanoseconds, dev, ino. False when nothing is there (ENOENT); throws on any
   * other failure.
   */
  statInto(path: string, follow: boolean, out: Float64Array): boolean;
}

/** Built by scripts/build-launcher.sh next to the helpers. */
const ADDON = packagePath('dist/bin/redpak-kernel.node');

/**
 * Test hook (docs/transactions.md, "Kernel calls"): `REDPAK_TEST_NO_KERNEL_ADDON=1` takes the
 * other ways although the addon was built, so that a build without it is tested on this one. It
 * can only turn the addon off, never name another file.
 */
const NO_ADDON_HOOK = 'REDPAK_TEST_NO_KERNEL_ADDON';

let addon: KernelAddon | null | undefined;

/**
 * The addon where it was built and the hook does not turn it off, else null. One that is there
 * but does not load (a damaged install) is not used either: the other ways do the same.
 */
export function kernelAddon(env: Readonly<Record<string, string | undefined>> = process.env): KernelAddon | null {
  if (env[NO_ADDON_HOOK] === '1') return null;
  if (addon === undefined) {
    addon = null;
    if (existsSync(ADDON)) {
      const module = { exports: {} as KernelAddon };
      try {
        process.dlopen(module, ADDON);
        addon = module.exports;
      } catch {
        addon = null;
      }
    }
  }
  return addon;
}
