/** The built executables, run as a user runs them: status, output, and the --json document. */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

export interface BinRun {
  status: number;
  stdout: string;
  stderr: string;
  /** The parsed stdout when the arguments include --json (undefined if it is not JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: any command's document; each test reads the fields it checks
  json: any;
}

export function runBin(
  bin: 'redmanager' | 'redwrap-dnf' | 'redwrap',
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): BinRun {
  const result = spawnSync(join(PACKAGE_ROOT, 'bin', bin), args, {
    cwd: options.cwd ?? PACKAGE_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let json: unknown;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(result.stdout);
    } catch {
      json = undefined;
    }
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, json };
}

/** What start.cjs needs in any partial copy of the built package: the package file, itself and its bundle loader. */
export const START_PARTS = ['package.json', 'dist/src/cli/start.cjs', 'dist/src/cli/bundle-loader.cjs'];

/** A partial copy in which only redmanager's quick start (tree, mergeconfig) can answer. */
export const QUICK_START_PARTS = [...START_PARTS, 'dist/cli/quick.cjs', 'dist/cli/yaml.cjs', 'dist/oclif/redmanager'];

/**
 * A partial copy of the built package in `dest`: only `paths` (files or folders, relative to the
 * package root), so that a run from it shows which of them a command needs.
 */
export function copyPackageParts(dest: string, paths: readonly string[]): void {
  for (const path of paths) {
    mkdirSync(join(dest, path, '..'), { recursive: true });
    cpSync(join(PACKAGE_ROOT, path), join(dest, path), { recursive: true });
  }
}
