/**
 * SIGINT and SIGTERM while redwrap-dnf runs a transaction, as a terminal's Ctrl-C or a service
 * manager sends them: while rpm runs a scriptlet, and while a package download hangs on a server
 * that never answers (progress display on). Each ends the command within two seconds with the
 * shell's status (130, 143) and a message; the lock is free, no stage is left, the node is as it was.
 * Both ways of starting a transaction (the quick start, and oclif's) are run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { STAGE_DIR } from '../../src/pkg/view.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { lockIsHeld } from '../helpers/lock-holder.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import { buildTestRpm, makeNodeFamily, snapshotNode, writeRepoFile, type NodeFamily } from '../pkg/helpers/nodes.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'redwrap-dnf');

interface Interrupted {
  status: number | null;
  stderr: string;
  /** Milliseconds from the signal to the end of the command. */
  took: number;
}

/**
 * The two ways a transaction starts (src/cli/start.cts): the quick start takes a plain command
 * line; any variable of oclif's scope (here one oclif does not read) makes it decline, and the full
 * bundle runs it through oclif. Both must abort alike.
 */
const WAYS: { name: string; env: Record<string, string> }[] = [
  { name: 'quick start', env: {} },
  { name: 'through oclif', env: { REDWRAP_DNF_TEST_FULL_BUNDLE: '1' } },
];

/** Runs redwrap-dnf, sends `signal` once `ready()` holds, and waits for the end. */
async function interrupt(
  args: string[],
  signal: NodeJS.Signals,
  ready: () => boolean,
  env: Record<string, string>,
): Promise<Interrupted> {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  const ended = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  for (let i = 0; i < 400 && !ready(); i += 1) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ready(), `the command reached the point to interrupt: ${stderr}`);
  const t0 = Date.now();
  child.kill(signal);
  const status = await ended;
  return { status, stderr, took: Date.now() - t0 };
}

function assertClean(
  f: NodeFamily,
  node: string,
  before: Record<string, string>,
  r: Interrupted,
  signal: NodeJS.Signals,
): void {
  assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, r.stderr);
  assert.match(r.stderr, new RegExp(`interrupted by ${signal}: nothing was changed in node`));
  assert.ok(r.took < 2500, `ended ${r.took} ms after the signal`);
  assert.ok(!lockIsHeld(join(f.sys, LOCK_FILE)), 'the lock is free');
  assert.ok(!existsSync(join(node, STAGE_DIR)), 'no stage left');
  assert.deepEqual(snapshotNode(node), before, 'the node is as it was');
}

describe('interrupting redwrap-dnf', () => {
  let f: NodeFamily;
  let server: Server;
  let url: string;
  const hung: ServerResponse[] = [];
  let rpmRequested = false;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
    const root = (await fixtureRepo()).repoDir;
    // Serves the repository's metadata; a package request is accepted and never answered.
    server = createServer((req, res) => {
      const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
      const file = join(root, path);
      if (path.endsWith('.rpm')) {
        rpmRequested = true;
        // The size the repository declares (a larger one is refused before any wait), then silence.
        res.writeHead(200, { 'content-length': existsSync(file) ? statSync(file).size : 1 << 16 });
        res.write('x');
        hung.push(res);
        return;
      }
      if (!file.startsWith(root) || !existsSync(file) || lstatSync(file).isDirectory())
        return void res.writeHead(404).end();
      res.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hung) res.destroy();
    await new Promise((r) => server.close(r));
    f.cleanup();
  });

  for (const { name: way, env } of WAYS)
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`${way}, ${signal} while rpm runs a scriptlet: exit ${signal === 'SIGINT' ? 130 : 143}, message, lock free, no stage, node unchanged`, async () => {
        const slow = buildTestRpm(
          'redslow',
          '%install\nmkdir -p %{buildroot}/usr/share/redslow\necho slow > %{buildroot}/usr/share/redslow/README\n%post\nsleep 20\n%files\n/usr/share/redslow/README\n',
        );
        const before = snapshotNode(f.app);
        const staged = join(f.app, STAGE_DIR, 'upper/usr/share/redslow/README');
        const r = await interrupt(['--redpath', f.app, '-y', 'install', slow], signal, () => existsSync(staged), env);
        assertClean(f, f.app, before, r, signal);
      });

      it(`${way}, ${signal} while a package download hangs, progress shown: exit ${signal === 'SIGINT' ? 130 : 143}, message, lock free, node unchanged`, async () => {
        rmSync(join(f.platform, 'etc/yum.repos.d'), { recursive: true, force: true });
        writeRepoFile(f.platform, 'hanging', url);
        rpmRequested = false;
        const before = snapshotNode(f.platform);
        const r = await interrupt(
          ['--redpath', f.platform, '-y', 'install', 'redlegacy'],
          signal,
          () => rpmRequested,
          env,
        );
        rmSync(join(f.platform, 'etc/yum.repos.d'), { recursive: true, force: true });
        rmSync(join(f.platform, 'var/cache'), { recursive: true, force: true });
        const after = snapshotNode(f.platform);
        // The repository file and the metadata cache are the test's and the download's, not the transaction's.
        const strip = (s: Record<string, string>) =>
          Object.fromEntries(
            Object.entries(s).filter(([k]) => !k.startsWith('etc/yum.repos.d') && !k.startsWith('var/cache')),
          );
        assert.deepEqual(strip(after), strip(before));
        assertClean(f, f.platform, after, r, signal);
      });
    }
});
