/**
 * Start-up and scale of the Node.js commands, each against `node -e 0` (the floor of the runtime)
 * run interleaved with it: `redmanager tree` of a 1,000-node family, `redmanager mergeconfig
 * --json` of families 8 and 16 deep, the full CLI's `redwrap --dump-only`, a query (`redwrap-dnf list
 * --installed`), `redmanager config --json` (a command without a quick start: the command-line
 * framework loads), and `--version` (start.cjs answers it alone, no bundle loaded).
 *
 *   npm run build && node dist/bench/startup.js [--rounds N]
 *
 * The families are written with the library (src/node/factory.ts), the way `create-node` writes
 * them, from the shipped default template. tree, mergeconfig and --dump-only keep what they read
 * in the caller's read caches (docs/read-caches.md): the warm-up round fills them, so their rows
 * are a family read again unchanged; the "no cache" rows (REDWRAP_NO_CACHE) read every file each
 * time, as after a change. The cache files the bench wrote are removed at the end.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNode } from '../src/node/factory.js';
import { usableCallerCacheDir } from '../src/system/caller-cache.js';
import { inspectionHostFacts } from '../src/system/host-facts.js';
import { benchEnv, compare, type Contender, numberFlag, type Row, runWhenMain } from './lib.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const START = join(ROOT, 'dist/src/cli/start.cjs');

function node(redpath: string, systemNode = false): void {
  createNode({ redpath, systemNode, host: inspectionHostFacts() });
}

/** A root, 9 platforms, and 110 apps under each: 1,000 nodes. */
function wideFamily(dir: string): string {
  const root = join(dir, 'wide');
  node(root);
  for (let p = 0; p < 9; p += 1) {
    const platform = join(root, `platform${p}`);
    node(platform);
    for (let a = 0; a < 110; a += 1) node(join(platform, `app${a}`));
  }
  return root;
}

/** A chain of `depth` nodes; returns the leaf. */
function deepFamily(dir: string, depth: number): string {
  let path = join(dir, `deep${depth}`);
  node(path);
  for (let level = 1; level < depth; level += 1) {
    path = join(path, `n${level}`);
    node(path);
  }
  return path;
}

const floor: Contender = { name: 'node -e 0', argv: [process.execPath, '-e', '0'] };
const cli = (name: string, executable: string, ...args: string[]): Contender => ({
  name,
  argv: [process.execPath, START, executable, ...args],
});
const uncached = (contender: Contender): Contender => ({
  ...contender,
  name: `${contender.name}, no cache`,
  env: benchEnv({ REDWRAP_NO_CACHE: '1' }),
});

/** The read caches' files in the caller's cache directory (to remove those the bench adds). */
function readCacheFiles(dir: string | undefined): Set<string> {
  if (dir === undefined) return new Set();
  return new Set(readdirSync(dir).filter((name) => /^(tree|read)-.*\.json$/.test(name)));
}

export function startupBench(rounds: number): Row[] {
  const scratch = mkdtempSync(join(tmpdir(), 'redpak-bench-startup-'));
  const cacheDir = usableCallerCacheDir();
  const cachedBefore = readCacheFiles(cacheDir);
  try {
    const wide = wideFamily(scratch);
    const deep8 = deepFamily(scratch, 8);
    const deep16 = deepFamily(scratch, 16);
    const tree = cli('redmanager tree, 1,000 nodes', 'redmanager', 'tree', '--redroot', wide);
    const merge8 = cli(
      'redmanager mergeconfig --json, 8 deep',
      'redmanager',
      'mergeconfig',
      '--json',
      '--redpath',
      deep8,
    );
    const merge16 = cli(
      'redmanager mergeconfig --json, 16 deep',
      'redmanager',
      'mergeconfig',
      '--json',
      '--redpath',
      deep16,
    );
    const dump = cli(
      'redwrap --dump-only (full CLI), 8 deep',
      'redwrap',
      '--dump-only',
      '--redpath',
      deep8,
      '--',
      '/bin/true',
    );
    const comparisons: Contender[][] = [
      [floor, tree],
      [floor, uncached(tree)],
      [floor, merge8],
      [floor, uncached(merge8)],
      [floor, merge16],
      [floor, dump],
      [floor, uncached(dump)],
      [
        floor,
        cli(
          'redwrap-dnf list --installed PATTERN, 8 deep',
          'redwrap-dnf',
          '--redpath',
          deep8,
          'list',
          '--installed',
          'lib*',
        ),
      ],
      [
        floor,
        cli('redmanager config --json (command-line framework)', 'redmanager', 'config', '--json', '--redpath', deep8),
      ],
      [floor, cli('redmanager --version', 'redmanager', '--version')],
      [floor, cli('redwrap-dnf --version', 'redwrap-dnf', '--version')],
    ];
    return comparisons.flatMap((contenders, i) =>
      compare('startup', contenders, rounds).filter((_row, j) => i === 0 || j > 0),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (cacheDir)
      for (const name of readCacheFiles(cacheDir))
        if (!cachedBefore.has(name)) rmSync(join(cacheDir, name), { force: true });
  }
}

runWhenMain(import.meta.url, () => startupBench(numberFlag('--rounds', 25)));
