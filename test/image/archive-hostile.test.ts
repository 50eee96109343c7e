/**
 * Hostile node archives for `redmanager import`: each is a real exported archive with entries
 * added to both the tar and its manifest (so the manifest checks pass and only the rule under
 * test can refuse it): symlink chains that leave the node through links already unpacked,
 * redpak's own names (.redpak, .redpak-stage, the lock) at any depth, a 3,000-deep tree, too
 * many entries, world-writable files and directories. Every refusal names the archive and the
 * entry and leaves nothing behind (no node, no staging directory).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extract as tarExtract } from 'tar-stream';
import { RedpakError } from '../../src/errors.js';
import {
  exportNode,
  importNode,
  linkEscapes,
  MANIFEST_NAME,
  MAX_ENTRIES,
  type ArchiveManifest,
  type ManifestEntry,
} from '../../src/image/archive.js';
import { pinnedHost } from '../helpers/family.js';
import type { NodeFamily } from '../pkg/helpers/nodes.js';
import { listing, makeInstalledFamily, sha, writeTar } from './family.js';

interface Entry {
  name: string;
  type: string;
  mode: number;
  content?: Buffer;
  linkname?: string;
}

async function readTar(file: string): Promise<Entry[]> {
  const extract = tarExtract();
  const out: Entry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({
        name: h.name,
        type: h.type ?? 'file',
        mode: h.mode ?? 0,
        ...(h.type === 'file' ? { content: Buffer.concat(chunks) } : {}),
        ...(h.linkname ? { linkname: h.linkname } : {}),
      });
    }
  })();
  extract.end(readFileSync(file));
  await done;
  return out;
}

/** What to add: a directory, a file (content, mode) or a symlink. */
type Extra =
  | { dir: string; mode?: number }
  | { file: string; content?: string; mode?: number }
  | { link: string; target: string };

/** The real archive `base` plus `extras`, appended to the tar and listed in the manifest. */
async function withExtras(base: string, out: string, extras: Extra[]): Promise<void> {
  const entries = await readTar(base);
  const manifest = JSON.parse(entries[0]!.content!.toString('utf8')) as ArchiveManifest;
  const added: Entry[] = [];
  const listed: ManifestEntry[] = [];
  for (const x of extras) {
    if ('dir' in x) {
      const mode = x.mode ?? 0o755;
      added.push({ name: `${x.dir}/`, type: 'directory', mode });
      listed.push({ path: x.dir, type: 'directory', mode: mode.toString(8).padStart(4, '0') });
    } else if ('file' in x) {
      const content = Buffer.from(x.content ?? 'x\n');
      const mode = x.mode ?? 0o644;
      added.push({ name: x.file, type: 'file', mode, content });
      listed.push({
        path: x.file,
        type: 'file',
        mode: mode.toString(8).padStart(4, '0'),
        size: content.length,
        sha256: sha(content),
      });
    } else {
      added.push({ name: x.link, type: 'symlink', mode: 0o777, linkname: x.target });
      listed.push({ path: x.link, type: 'symlink', mode: '0777', target: x.target });
    }
  }
  const newManifest = { ...manifest, entries: [...manifest.entries, ...listed] };
  await writeTar(out, [
    { name: MANIFEST_NAME, type: 'file', mode: 0o644, content: Buffer.from(JSON.stringify(newManifest)) },
    ...entries.slice(1),
    ...added,
  ]);
}

describe('redmanager import: hostile archives', () => {
  let f: NodeFamily;
  let appTar: string;
  let n = 0;
  before(async () => {
    f = await makeInstalledFamily();
    appTar = join(f.dir, 'app.tar');
    await exportNode({ redpath: f.app, output: appTar });
  });
  after(() => f.cleanup());

  /** Imports `extras` on top of the real archive; expects a refusal naming the archive and `pattern`. */
  async function refused(extras: Extra[], pattern: RegExp): Promise<void> {
    n += 1;
    const bad = join(f.dir, `hostile-${n}.tar`);
    await withExtras(appTar, bad, extras);
    const dest = join(f.platform, `hostile${n}`);
    await assert.rejects(importNode({ archive: bad, redpath: dest, host: pinnedHost() }), (error: unknown) => {
      assert.ok(error instanceof RedpakError, String(error));
      assert.equal(error.code, 'io', error.message);
      assert.ok(error.message.includes(`archive ${bad}:`), error.message);
      assert.match(error.message, pattern);
      return true;
    });
    assert.ok(!existsSync(dest), 'no node');
    assert.deepEqual(
      listing(f.platform).filter((name) => name.startsWith('.redpak-import')),
      [],
      'no staging directory left',
    );
  }

  it('the real archive with a harmless link chain still imports (the control case)', async () => {
    const ok = join(f.dir, 'ok.tar');
    await withExtras(appTar, ok, [
      { link: 's', target: '.' },
      { link: 'inside', target: 's/s/usr/../usr' },
    ]);
    const dest = join(f.platform, 'okchain');
    await importNode({ archive: ok, redpath: dest, host: pinnedHost() });
    assert.ok(existsSync(join(dest, 'inside/bin')));
  });

  it('a symlink chain through links already unpacked (s -> ., private -> s/s/s/../../..) is refused', async () => {
    await refused(
      [
        { link: 's', target: '.' },
        { link: 'private', target: 's/s/s/../../..' },
      ],
      /symlink "private" leads outside the node: s\/s\/s\/\.\.\/\.\.\/\.\. climbs above the node/,
    );
    // The link it goes through may come after it in the archive.
    await refused(
      [
        { link: 'a-private', target: 'z/z/../..' },
        { link: 'z', target: '.' },
      ],
      /symlink "a-private" leads outside the node/,
    );
    // Through a link in a subdirectory pointing up.
    await refused(
      [
        { link: 'usr/up', target: '..' },
        { link: 'esc', target: 'usr/up/usr/up/../..' },
      ],
      /symlink "esc" leads outside the node/,
    );
    // A loop.
    await refused(
      [
        { link: 'l1', target: 'l2/x' },
        { link: 'l2', target: 'l1' },
      ],
      /more than 40 links/,
    );
  });

  it("redpak's own names (.redpak, .redpak-stage, the lock) are refused at any depth, and anything under them", async () => {
    await refused(
      [{ dir: '.redpak' }, { file: '.redpak/fast-plan.json' }],
      /entry "\.redpak\/?" is or is under \.redpak/,
    );
    await refused([{ dir: '.redpak-stage' }], /is or is under \.redpak-stage/);
    await refused([{ file: '.redpak-transaction.lock' }], /is or is under \.redpak-transaction\.lock/);
    await refused([{ file: 'usr/.redpak' }], /entry "usr\/\.redpak" is or is under \.redpak/);
    await refused([{ link: 'cache', target: '.redpak' }], /leads into \.redpak/);
  });

  it('a 3,000-deep directory tree is refused by depth, without a stack overflow, leaving nothing', async () => {
    const extras: Extra[] = [];
    let path = 'deep';
    for (let i = 0; i < 3000; i += 1) {
      extras.push({ dir: path });
      path += '/d';
    }
    await refused(extras, /is 257 directories deep \(at most 256\)/);
  });

  it('more entries than an archive may hold are refused from the manifest, before anything is written', async () => {
    const bad = join(f.dir, 'many.tar');
    const entries = await readTar(appTar);
    const manifest = JSON.parse(entries[0]!.content!.toString('utf8')) as ArchiveManifest;
    const many = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => ({
      path: `m${i}`,
      type: 'directory' as const,
      mode: '0755',
    }));
    await writeTar(bad, [
      {
        name: MANIFEST_NAME,
        type: 'file',
        mode: 0o644,
        content: Buffer.from(JSON.stringify({ ...manifest, entries: [...manifest.entries, ...many] })),
      },
      ...entries.slice(1),
    ]);
    await assert.rejects(
      importNode({ archive: bad, redpath: join(f.platform, 'many'), host: pinnedHost() }),
      (e: unknown) =>
        e instanceof RedpakError &&
        /lists 1000\d+ entries, more than the 1000000/.test(e.message) &&
        e.message.includes(bad),
    );
    assert.deepEqual(
      listing(f.platform).filter((name) => name.startsWith('.redpak-import') || name === 'many'),
      [],
    );
  });

  it('world-writable files and directories are refused (0777 file, 0777 directory)', async () => {
    await refused([{ file: 'usr/bin/open', mode: 0o777 }], /file "usr\/bin\/open" is world-writable \(mode 0777\)/);
    await refused([{ file: 'usr/bin/open2', mode: 0o666 }], /file "usr\/bin\/open2" is world-writable \(mode 0666\)/);
    await refused([{ dir: 'var/drop', mode: 0o777 }], /directory "var\/drop" is world-writable/);
  });
});

describe("export leaves redpak's own names out at any depth", () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeInstalledFamily();
  });
  after(() => f.cleanup());

  it('a nested .redpak directory is skipped and reported; the archive imports', async () => {
    mkdirSync(join(f.app, 'usr/share/.redpak'), { recursive: true });
    writeFileSync(join(f.app, 'usr/share/.redpak/x'), 'x');
    const out = join(f.dir, 'app.tar');
    const result = await exportNode({ redpath: f.app, output: out });
    assert.deepEqual(result.skipped, ['usr/share/.redpak']);
    await importNode({ archive: out, redpath: join(f.platform, 'again'), host: pinnedHost() });
    assert.ok(!existsSync(join(f.platform, 'again/usr/share/.redpak')));
  });
});

describe('linkEscapes', () => {
  it('resolves through what is on disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redpak-linkescapes-'));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    symlinkSync('.', join(root, 's'));
    symlinkSync('..', join(root, 'usr/up'));
    assert.equal(linkEscapes(root, 'ok', 'usr/lib/../lib'), undefined);
    assert.equal(linkEscapes(root, 'usr/lib/x', '../../usr'), undefined);
    assert.match(linkEscapes(root, 'p', 's/s/../..') ?? '', /climbs above/);
    assert.match(linkEscapes(root, 'p', 'usr/up/..') ?? '', /climbs above/);
    assert.match(linkEscapes(root, 'p', '/etc') ?? '', /absolute/);
    rmSync(dir, { recursive: true, force: true });
  });
});
