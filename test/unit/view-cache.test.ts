/**
 * The view cache (src/cli/view-cache.ts, docs/read-caches.md "Views"): a view kept is printed again
 * only while everything it read is as it was; hostile or foreign cache files are never believed.
 * Each case keeps a real view in a cache directory of the test's own, changes one thing, and
 * checks that the view is no longer served (or, where nothing changed, that it is).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { viewOutput } from '../../src/cli/quick.js';
import { cachedView, recordView, viewCacheFile } from '../../src/cli/view-cache.js';
import { dumpOnlyView, mergeConfigView, type View } from '../../src/cli/views.js';
import { createNode } from '../../src/node/factory.js';
import { tempDir } from '../helpers/family.js';
import { edit, family, NODE_PLANTS } from '../helpers/node-plants.js';
import { olderThanTheClockMargin, ownCacheDir } from '../helpers/read-caches.js';
import { pinnedHost } from '../helpers/family.js';

/** A command line and the view it asks for (as cli/quick.ts computes it), watched or not. */
interface Line {
  bin: string;
  argv: string[];
  show: (watched: boolean) => View<unknown>;
  json: boolean;
}

const mergeconfig = (redpath: string, extra: { admin?: boolean } = {}): Line => ({
  bin: 'redmanager',
  argv: ['mergeconfig', '--expand', '--json', '--redpath', redpath, ...(extra.admin ? ['--admin'] : [])],
  show: (watched) => mergeConfigView({ redpath, expand: true, admin: extra.admin }, true, watched),
  json: true,
});

const dumpOnly = (redpath: string, options: { strict?: boolean } = {}): Line => ({
  bin: 'redwrap',
  argv: ['--dump-only', ...(options.strict ? ['--strict'] : []), '--redpath', redpath, '--', '/bin/true'],
  show: (watched) =>
    dumpOnlyView(
      { redpath, admin: false, dump: false, dumpOnly: true, strict: options.strict ?? false, json: false },
      ['/bin/true'],
      watched,
    ),
  json: false,
});

/** What the line prints now, read from the files (an error as its message). */
function truth(line: Line): string {
  try {
    return viewOutput(line.show(false), line.json).stdout;
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

/** Shows the line watched and keeps it in `cacheDir`, as the quick start does; says whether it was kept. */
function keep(line: Line, cacheDir: string): boolean {
  const view = line.show(true);
  if (view.reads) recordView(line.bin, line.argv, view.reads, viewOutput(view, line.json), cacheDir);
  return view.reads !== undefined;
}

const served = (line: Line, cacheDir: string) => cachedView(line.bin, line.argv, cacheDir)?.stdout;

/** A family old enough to be kept, and a cache directory of the test's own. */
async function setting(t: TestContext) {
  const dir = tempDir(t);
  const f = family(dir);
  const cacheDir = ownCacheDir(t);
  await olderThanTheClockMargin();
  return { dir, f, cacheDir };
}

/** Adds an environ entry, `KEY: VALUE`, to a node's config. */
function addEnviron(node: string, key: string, value: string): void {
  edit(join(node, 'etc/redpak.yaml'), /^environ:\n/m, `environ:\n- key: ${key}\n  value: "${value}"\n`);
}

describe('the view cache', () => {
  it('prints again what a view printed while nothing it read changed', async (t) => {
    const { f, cacheDir } = await setting(t);
    for (const line of [mergeconfig(f.a1), mergeconfig(f.a1, { admin: true }), dumpOnly(f.a1)]) {
      assert.equal(keep(line, cacheDir), true, line.argv.join(' '));
      assert.equal(served(line, cacheDir), truth(line));
    }
  });

  it('keeps nothing read within the clock margin of a change', (t) => {
    const dir = tempDir(t);
    const f = family(dir);
    assert.equal(keep(mergeconfig(f.a1), ownCacheDir(t)), false);
  });

  for (const [what, plant] of NODE_PLANTS) {
    for (const where of ['a1', 'p1'] as const) {
      it(`does not serve a view once ${what} is planted in ${where === 'a1' ? 'the node' : 'its parent'}`, async (t) => {
        const { dir, f, cacheDir } = await setting(t);
        const lines = [mergeconfig(f.a1), dumpOnly(f.a1)];
        for (const line of lines) assert.ok(keep(line, cacheDir));
        plant(f[where], dir);
        for (const line of lines) assert.equal(served(line, cacheDir), undefined, `${line.bin}: ${truth(line)}`);
      });
    }
  }

  it('sees a directory above the family become a node', async (t) => {
    const { dir, cacheDir } = await setting(t);
    const f = family(join(dir, 'above'));
    await olderThanTheClockMargin();
    const line = mergeconfig(f.a1);
    assert.ok(keep(line, cacheDir));
    createNode({ redpath: join(dir, 'above'), host: pinnedHost() });
    assert.equal(served(line, cacheDir), undefined);
  });

  it('sees an edit that keeps the size and the modification time (ctime)', async (t) => {
    const { f, cacheDir } = await setting(t);
    const line = mergeconfig(f.a1);
    assert.ok(keep(line, cacheDir));
    const config = join(f.p1, 'etc/redpak.yaml');
    const text = readFileSync(config, 'utf8');
    writeFileSync(
      config,
      text.replace(/alias: (\w+)/, (_m, alias: string) => `alias: ${alias.toUpperCase()}`),
    );
    assert.equal(
      spawnSync('touch', ['-r', join(f.p1, '.rednode.yaml'), config]).status,
      0,
      'the modification time put back',
    );
    assert.equal(served(line, cacheDir), undefined);
  });

  it('follows the node path: a link turned to another family is not the family kept', async (t) => {
    const { dir, cacheDir } = await setting(t);
    const first = family(join(dir, 'first'));
    const second = family(join(dir, 'second'));
    edit(join(second.a1, 'etc/redpak.yaml'), /alias: \w+/, 'alias: other');
    // In a directory that is no node, whose changes the family's stamps do not see.
    const link = join(tempDir(t), 'app');
    symlinkSync(first.a1, link);
    await olderThanTheClockMargin();
    const line = mergeconfig(link);
    assert.ok(keep(line, cacheDir));
    rmSync(link);
    symlinkSync(second.a1, link);
    assert.equal(served(line, cacheDir), undefined);
  });

  it('checks every environment variable the view read, and the config limits', async (t) => {
    const { f, cacheDir } = await setting(t);
    addEnviron(f.a1, 'GREETING', '$VIEW_CACHE_TEST');
    await olderThanTheClockMargin();
    const line = mergeconfig(f.a1);
    const restore = { ...process.env };
    t.after(() => {
      for (const name of ['VIEW_CACHE_TEST', 'REDPAK_MAX_CONFIG_BYTES']) {
        if (restore[name] === undefined) delete process.env[name];
        else process.env[name] = restore[name];
      }
    });
    process.env.VIEW_CACHE_TEST = 'one';
    assert.ok(keep(line, cacheDir));
    assert.match(served(line, cacheDir) ?? '', /"value": "one"/);
    process.env.VIEW_CACHE_TEST = 'two';
    assert.equal(served(line, cacheDir), undefined);
    delete process.env.VIEW_CACHE_TEST;
    assert.equal(served(line, cacheDir), undefined);
    process.env.VIEW_CACHE_TEST = 'one';
    process.env.REDPAK_MAX_CONFIG_BYTES = '4096';
    assert.equal(served(line, cacheDir), undefined);
  });

  it('keeps no view that read what cannot be checked again', async (t) => {
    const { f, cacheDir } = await setting(t);
    const { HOSTNAME } = process.env;
    t.after(() => {
      if (HOSTNAME !== undefined) process.env.HOSTNAME = HOSTNAME;
    });
    delete process.env.HOSTNAME;
    const cases: [string, string][] = [
      ['the pid', '$PID'],
      ['the date', '$TODAY'],
      ['a fresh UUID', '$UUID'],
      ['a value the system filled in', '$HOSTNAME'],
    ];
    for (const [what, value] of cases) {
      const config = join(f.a1, 'etc/redpak.yaml');
      const before = readFileSync(config, 'utf8');
      addEnviron(f.a1, 'SEEN', value);
      await olderThanTheClockMargin();
      assert.equal(keep(mergeconfig(f.a1), cacheDir), false, what);
      writeFileSync(config, before);
    }
  });

  it('checks the export sources a launch plan probed', async (t) => {
    const { f, cacheDir } = await setting(t);
    const source = join(tempDir(t), 'shared'); // in no node: the family's stamps do not see it
    edit(join(f.a1, 'etc/redpak.yaml'), /^exports:\n/m, `exports:\n- mode: Restricted\n  mount: ${source}\n`);
    await olderThanTheClockMargin();
    const line = dumpOnly(f.a1);
    assert.ok(keep(line, cacheDir));
    assert.match(served(line, cacheDir) ?? '', new RegExp(`# creates ${source}`));
    mkdirSync(source);
    assert.equal(served(line, cacheDir), undefined);
    assert.doesNotMatch(truth(line), new RegExp(`# creates ${source}`));
  });

  it('keeps only the launch plans the launch cache would keep', async (t) => {
    const { f, cacheDir } = await setting(t);
    assert.equal(keep(dumpOnly(f.a1, { strict: true }), cacheDir), false, '--strict');
    edit(join(f.a1, 'etc/redpak.yaml'), /^config:\n/m, 'config:\n  inherit-env: true\n');
    await olderThanTheClockMargin();
    assert.equal(keep(dumpOnly(f.a1), cacheDir), false, 'inherit-env: the caller’s whole environment is shown');
  });

  describe('never believes a cache file the caller alone could not have written, or about something else', () => {
    const forged = (file: string) => {
      const entry = JSON.parse(readFileSync(file, 'utf8'));
      entry.stdout = 'forged\n';
      return entry;
    };
    const plants: [string, (file: string, dir: string) => void][] = [
      [
        'writable by its group',
        (file) => {
          writeFileSync(file, JSON.stringify(forged(file)));
          chmodSync(file, 0o620);
        },
      ],
      [
        'writable by others',
        (file) => {
          writeFileSync(file, JSON.stringify(forged(file)));
          chmodSync(file, 0o606);
        },
      ],
      [
        'owned by another user',
        (file) => {
          writeFileSync(file, JSON.stringify(forged(file)));
          chmodSync(file, 0o600);
          const other = (process.geteuid?.() ?? 0) === 0 ? 65534 : undefined;
          if (other === undefined)
            rmSync(file); // only root can give a file away; nothing to plant then
          else spawnSync('chown', [String(other), file]);
        },
      ],
      [
        'a link to a forged file',
        (file, dir) => {
          writeFileSync(join(dir, 'forged.json'), JSON.stringify(forged(file)));
          rmSync(file);
          symlinkSync(join(dir, 'forged.json'), file);
        },
      ],
      ['not JSON', (file) => writeFileSync(file, 'forged\n')],
      [
        'in another format',
        (file) => writeFileSync(file, JSON.stringify({ ...forged(file), format: 'redpak-view/0' })),
      ],
      [
        'about another command line',
        (file) => writeFileSync(file, JSON.stringify({ ...forged(file), key: '["redmanager",["tree"],"/",0,0]' })),
      ],
      ['from another build', (file) => writeFileSync(file, JSON.stringify({ ...forged(file), build: 'missing' }))],
      [
        'about another real path',
        (file) => writeFileSync(file, JSON.stringify({ ...forged(file), realpath: '/elsewhere' })),
      ],
      [
        'with a stamp changed',
        (file) => {
          const entry = forged(file);
          entry.stamps[0][2] = 'missing';
          writeFileSync(file, JSON.stringify(entry));
        },
      ],
      [
        'of another shape',
        (file) => writeFileSync(file, JSON.stringify({ ...forged(file), stamps: [1, [null, 'dir']], probes: [[]] })),
      ],
      [
        'with a variable it read changed',
        (file) => {
          const entry = forged(file);
          entry.env = [['PATH', 'forged']];
          writeFileSync(file, JSON.stringify(entry));
        },
      ],
    ];
    for (const [what, plant] of plants) {
      it(what, async (t) => {
        const { dir, f, cacheDir } = await setting(t);
        const line = mergeconfig(f.a1);
        assert.ok(keep(line, cacheDir));
        const file = viewCacheFile(cacheDir, line.bin, line.argv);
        plant(file, dir);
        assert.equal(served(line, cacheDir), undefined);
      });
    }
  });
});
