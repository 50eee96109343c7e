/**
 * Test helpers for redwrap-dnf: real families of nodes (created by the node factory, each with
 * its own rpm database), repository files, an http server for a repository, and snapshots for
 * "the node is exactly as it was" checks.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { createNode } from '../../../src/node/factory.js';
import { NORMAL_CONFIG } from '../../../src/node/layout.js';
import { acceptUnsignedPackages } from '../../../src/pkg/node-setup.js';
import { detectHostProvides, initDb, registerHostProvides } from '../../../src/pkg/rpm.js';
import { pinnedHost } from '../../helpers/family.js';
import { fixtureRepo } from './family.js';

let hostProvides: Promise<string[]> | undefined;
export function hostCapabilities(): Promise<string[]> {
  hostProvides ??= detectHostProvides();
  return hostProvides;
}

export interface NodeFamily {
  dir: string;
  /** system node (root), platform (its child), app (platform's child). */
  sys: string;
  platform: string;
  app: string;
  cleanup(): void;
}

/**
 * system → platform → app, created like `redmanager create-node`, host capabilities in system,
 * fixture repo file in system. The fixture packages are unsigned: the system node's `gpgcheck:
 * true` (its template's, a floor under the .repo files' gpgcheck) is set to false unless
 * `gpgcheck: true`. `parent`: where the family's directory is made (default: the temp directory).
 */
export async function makeNodeFamily(
  options: { repoFile?: boolean; gpgcheck?: boolean; parent?: string } = {},
): Promise<NodeFamily> {
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), 'redpak-dnf-test-'));
  const sys = join(dir, 'redpak');
  const platform = join(sys, 'platform');
  const app = join(platform, 'app');
  createNode({ redpath: platform, host: pinnedHost() });
  createNode({ redpath: app, host: pinnedHost() });
  if (!options.gpgcheck) acceptUnsignedPackages(join(sys, NORMAL_CONFIG));
  for (const n of [sys, platform, app]) await initDb(n);
  await registerHostProvides(sys, await hostCapabilities());
  if (options.repoFile !== false) writeRepoFile(sys, 'fixtures', `file://${(await fixtureRepo()).repoDir}`);
  return { dir, sys, platform, app, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeRepoFile(node: string, id: string, baseurl: string, extra: Record<string, string> = {}): string {
  const dir = join(node, 'etc/yum.repos.d');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${id}.repo`);
  const lines = [
    `[${id}]`,
    `name=${id}`,
    `baseurl=${baseurl}`,
    'gpgcheck=0',
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * Every file of a node (not its child nodes, not the lock, not sqlite's -shm) with a content hash: equal snapshots
 * mean database and files are exactly as they were.
 */
export function snapshotNode(node: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      if (st.isDirectory()) {
        if (existsSync(join(full, '.rednode.yaml'))) continue;
        out[r] = 'dir';
        walk(full, r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(full)}`;
      // The lock file, and sqlite's shared-memory index, which every reader of a database rewrites.
      else if (name === '.redpak-transaction.lock' || name.endsWith('.sqlite-shm')) continue;
      else out[r] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(node, '');
  return out;
}

export interface RepoServer {
  url: string;
  /** Requests seen, by path. */
  hits: string[];
  /** Replace the bytes served for paths matching. */
  corrupt(match: RegExp): void;
  close(): Promise<void>;
}

/** Serve a directory over http on 127.0.0.1 (port chosen by the system). */
export async function serveDirectory(root: string): Promise<RepoServer> {
  const hits: string[] = [];
  const corrupted: RegExp[] = [];
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    hits.push(path);
    const file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file) || lstatSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    let bytes = readFileSync(file);
    if (corrupted.some((m) => m.test(path))) {
      bytes = Buffer.from(bytes);
      bytes[bytes.length - 1]! ^= 0xff;
    }
    res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    corrupt: (m) => corrupted.push(m),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Build a one-off package from spec lines (cached per content) and return its .rpm path; `preamble` goes before %description (Requires:, Provides:…). */
export function buildTestRpm(name: string, body: string, preamble: string[] = []): string {
  const spec = [
    '%global _build_id_links none',
    `Name: ${name}`,
    'Version: 1.0',
    'Release: 1',
    `Summary: redpak test package ${name}`,
    'License: Apache-2.0',
    'BuildArch: noarch',
    ...preamble,
    '%description',
    'Built by the redwrap-dnf tests.',
    body,
  ].join('\n');
  const key = createHash('sha256').update(spec).digest('hex').slice(0, 12);
  const work = join(tmpdir(), 'redpak-test-rpms', `${name}-${key}`);
  const rpm = join(work, 'RPMS', 'noarch', `${name}-1.0-1.noarch.rpm`);
  if (existsSync(rpm)) return rpm;
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, `${name}.spec`), spec);
  const result = spawnSync(
    'rpmbuild',
    [
      '--define',
      `_topdir ${work}`,
      '--define',
      `_dbpath ${join(work, 'db')}`,
      '--nodeps',
      '-bb',
      join(work, `${name}.spec`),
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`rpmbuild ${name} failed: ${result.stderr}`);
  return rpm;
}
