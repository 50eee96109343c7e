/**
 * Test helpers for src/pkg: the shared (cached) fixture repository and throwaway families of
 * nodes, each node a temp directory with its own real rpm database.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildFixtureRepo, type FixtureRepo } from '../../../src/pkg/fixture-repo.js';
import { detectHostProvides, initDb, installPackages, registerHostProvides } from '../../../src/pkg/rpm.js';
import { queryPackages } from '../../../src/pkg/installed.js';
import type { SolverRepo } from '../../../src/pkg/solver.js';

let repo: Promise<FixtureRepo> | undefined;
export function fixtureRepo(): Promise<FixtureRepo> {
  repo ??= buildFixtureRepo();
  return repo;
}

export async function fixtureRepos(): Promise<SolverRepo[]> {
  return [{ id: 'fixtures', dir: (await fixtureRepo()).repoDir }];
}

/** Path of a fixture .rpm by file-name prefix, e.g. rpmFile('libredfoo-1.0'). */
export async function rpmFile(prefix: string): Promise<string> {
  const { rpms } = await fixtureRepo();
  const match = Object.keys(rpms).filter((f) => f.startsWith(`${prefix}-`) || f.startsWith(prefix));
  if (match.length !== 1) throw new Error(`fixture ${prefix}: ${match.length} matches (${match.join(', ')})`);
  return rpms[match[0]!]!;
}

let hostProvides: Promise<string[]> | undefined;

export interface TestFamily {
  root: string;
  node(name: string): string;
  cleanup(): void;
}

/** Create empty nodes (with initialised rpm databases) under one temp dir. */
export async function makeFamily(...names: string[]): Promise<TestFamily> {
  const root = mkdtempSync(join(tmpdir(), 'redpak-pkg-test-'));
  for (const name of names) {
    mkdirSync(join(root, name));
    await initDb(join(root, name));
  }
  return { root, node: (name) => join(root, name), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Give a system node the host's capabilities (/bin/sh, libc sonames…) and the given fixture packages. */
export async function makeSystemNode(nodeRoot: string, fixturePrefixes: string[]): Promise<void> {
  hostProvides ??= detectHostProvides();
  await registerHostProvides(nodeRoot, await hostProvides);
  await installPackages(nodeRoot, await Promise.all(fixturePrefixes.map(rpmFile)), { noscripts: true });
}

/** Names installed in a node, sorted (host-provides package left out). */
export async function installedNames(nodeRoot: string): Promise<string[]> {
  return (await queryPackages(nodeRoot))
    .map((p) => p.name)
    .filter((n) => n !== 'redpak-host-provides')
    .sort();
}

/** Put busybox (as /bin/sh and /bin/mkdir) and the libraries it needs into a node, so scriptlets can run chrooted there. */
export function giveNodeAShell(nodeRoot: string): void {
  const copy = (from: string, to = from) => {
    mkdirSync(dirname(join(nodeRoot, to)), { recursive: true });
    copyFileSync(from, join(nodeRoot, to));
  };
  copy('/bin/busybox');
  for (const lib of [
    '/lib/x86_64-linux-gnu/libc.so.6',
    '/lib/x86_64-linux-gnu/libresolv.so.2',
    '/lib64/ld-linux-x86-64.so.2',
  ])
    copy(lib);
  symlinkSync('busybox', join(nodeRoot, 'bin/sh'));
  symlinkSync('busybox', join(nodeRoot, 'bin/mkdir'));
}
