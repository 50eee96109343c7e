/**
 * Test helpers for src/image: one real family (system → platform → app, real rpm databases from
 * the fixture repository) built once per test file, and a second family to import into.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { pack as tarPack } from 'tar-stream';
import { join } from 'node:path';
import { install } from '../../src/pkg/manager.js';
import { createNode } from '../../src/node/factory.js';
import { initDb, registerHostProvides } from '../../src/pkg/rpm.js';
import { pinnedHost } from '../helpers/family.js';
import { hostCapabilities, makeNodeFamily, type NodeFamily } from '../pkg/helpers/nodes.js';

/** platform has libredfoo and redfoo-conf, app has redhello (which needs both). */
export async function makeInstalledFamily(): Promise<NodeFamily> {
  const f = await makeNodeFamily();
  await install({ redpath: f.platform, specs: ['libredfoo', 'redfoo-conf'], host: pinnedHost() });
  await install({ redpath: f.app, specs: ['redhello'], host: pinnedHost() });
  return f;
}

/** A new family root (system node with the host's capabilities) at DIR/NAME, with a child node `base`. */
export async function makeDestination(dir: string, name: string): Promise<{ sys: string; base: string }> {
  const sys = join(dir, name);
  const base = join(sys, 'base');
  createNode({ redpath: base, host: pinnedHost() });
  await initDb(sys);
  await initDb(base);
  await registerHostProvides(sys, await hostCapabilities());
  return { sys, base };
}

/** `rpm --root NODE --dbpath /var/lib/rpm ARGS…`, as an admin would run it. */
export function rpm(node: string, ...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('rpm', ['--root', node, '--dbpath', '/var/lib/rpm', ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Names in a directory (including hidden ones): staging leftovers show up here. */
export function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Writes a tar from entries (for hand-made bad archives). */
export async function writeTar(
  file: string,
  entries: { name: string; type?: string; mode?: number; content?: Buffer; linkname?: string }[],
): Promise<void> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type: (e.type ?? 'file') as 'file',
        mode: e.mode ?? 0o644,
        mtime: new Date(0),
        linkname: e.linkname,
        ...(e.content ? { size: e.content.length } : {}),
      };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.content) pack.entry(header, e.content, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await ended;
  writeFileSync(file, Buffer.concat(chunks));
}

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
