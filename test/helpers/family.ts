/** Test helpers: temporary directories, pinned host facts, and families built on disk. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { HostFacts } from '../../src/config/expand.js';
import { runSandboxedCommand } from '../../src/system/host-facts.js';
import { createNode } from '../../src/node/factory.js';

export function tempDir(t: TestContext, prefix = 'redpak-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Host facts pinned so that outputs are reproducible; `$(...)` runs the real restricted shell. */
export function pinnedHost(overrides: Partial<HostFacts> = {}): HostFacts {
  let counter = 0;
  return {
    env: { USER: 'tester', LOGNAME: 'tester', HOSTNAME: 'testhost', HOME: '/home/tester' },
    uid: 1000,
    gid: 1000,
    pid: 4242,
    now: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    runCommand: (script) => runSandboxedCommand(script, { PATH: '/usr/bin:/bin' }),
    uuid: () => `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
    cgroupMountPoint: () => '/sys/fs/cgroup',
    ...overrides,
  };
}

/** Exports of the host's /usr, read-only, with the merged-/usr links: enough to run a host program in a node. */
export const HOST_USR_EXPORTS = `  - {mode: Restricted, mount: /usr}
  - {mode: Symlink, mount: /bin, path: usr/bin}
  - {mode: Symlink, mount: /lib, path: usr/lib}
  - {mode: Symlink, mount: /lib64, path: usr/lib64}
`;

export const HEADERS_ONLY = 'headers:\n  alias: alias\n  name: name\n  info: info\n';

/**
 * Creates a node from config texts, the way redpak's tests use `redconf create --config`:
 * `admin: undefined` writes no admin file.
 */
export function makeNode(
  dir: string,
  path: string,
  alias: string,
  normal: string,
  admin?: string,
  host = pinnedHost(),
): string {
  const scratch = join(dir, '.sources');
  mkdirSync(scratch, { recursive: true });
  const normalFile = join(scratch, `${alias}-normal.yaml`);
  writeFileSync(normalFile, normal);
  let adminFile: string | undefined;
  if (admin !== undefined) {
    adminFile = join(scratch, `${alias}-admin.yaml`);
    writeFileSync(adminFile, admin);
  }
  createNode({ redpath: path, alias, config: normalFile, configAdmin: adminFile, systemNode: false, host });
  return path;
}

export type Layout = 'node' | 'rootnn' | 'rootna' | 'rootan' | 'rootaa';
export const LAYOUTS: Layout[] = ['node', 'rootnn', 'rootna', 'rootan', 'rootaa'];

/**
 * redpak's five layouts for a configuration pair (its tests/basic): returns the evaluated node.
 * node: one node, normal CONF1, admin CONF2; rootXY: root and sub node, X/Y saying whether each
 * one's CONF sits in its normal (n) or admin (a) file, the other file headers-only.
 */
export function buildLayout(
  dir: string,
  layout: Layout,
  conf1: { name: string; yaml: string },
  conf2: { name: string; yaml: string },
): string {
  const rootPath = join(dir, layout, conf1.name);
  const subPath = join(rootPath, conf2.name);
  if (layout === 'node') return makeNode(dir, subPath, 'NODE', conf1.yaml, conf2.yaml);
  const [rootKind, subKind] = [layout[4], layout[5]];
  makeNode(
    dir,
    rootPath,
    'ROOT',
    rootKind === 'n' ? conf1.yaml : HEADERS_ONLY,
    rootKind === 'a' ? conf1.yaml : HEADERS_ONLY,
  );
  return makeNode(
    dir,
    subPath,
    'SUBNODE',
    subKind === 'n' ? conf2.yaml : HEADERS_ONLY,
    subKind === 'a' ? conf2.yaml : HEADERS_ONLY,
  );
}
