/**
 * The shortest start: a view shown before, printed again (cli/view-cache.ts). start.cjs asks here,
 * through this module's own small bundle (dist/cli/view-cache.cjs), before it loads the quick
 * start's; on any answer but true, nothing was printed.
 */
import { oclifEnvironment, writeOut } from './quick-start.js';
import { cachedView } from './view-cache.js';

/** Prints this command line's view if one kept is still true, and says whether it did. */
export function showCachedView(bin: string, argv: readonly string[]): boolean {
  // The quick start leaves a line to oclif under oclif's variables (cli/quick.ts): so is it here.
  if (oclifEnvironment(bin)) return false;
  const shown = cachedView(bin, argv);
  if (!shown) return false;
  writeOut(shown.stderr, 2);
  writeOut(shown.stdout);
  return true;
}
