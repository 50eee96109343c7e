/**
 * `npm run bench`: every bench, one table. Each compared command runs interleaved with its
 * baseline (bench/lib.ts); the ratio column is the median of per-round ratios.
 *
 *   npm run bench [-- --quick]
 *
 * --quick: fewer rounds, no 10,000-package install, a 5,000-package resolution (a smoke run, not a
 * measurement).
 * The install bench needs root and dnf; it is skipped (with the reason) otherwise.
 */
import { installBench } from './install.js';
import { launchBench } from './launch.js';
import { resolveBench } from './resolve.js';
import { formatTable, machine, type Row } from './lib.js';
import { startupBench } from './startup.js';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const rows: Row[] = [];
  const step = (name: string) => process.stderr.write(`bench: ${name}…\n`);
  step('launch');
  rows.push(...launchBench(quick ? 10 : 100));
  step('startup');
  rows.push(...startupBench(quick ? 3 : 25));
  step('install');
  if (process.getuid?.() === 0) rows.push(...(await installBench(quick ? 2 : 7, quick ? [0, 2000] : [0, 2000, 10000])));
  else rows.push({ bench: 'install', what: 'redwrap-dnf install vs dnf --installroot', note: 'skipped: needs root' });
  step('resolve');
  rows.push(...(await resolveBench(quick ? 1 : 3, quick ? 5000 : 63000)));
  console.log(formatTable(rows));
  console.log(`\n${machine()}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
