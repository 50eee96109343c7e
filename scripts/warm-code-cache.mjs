#!/usr/bin/env node
// Runs each executable once (--help), so that its V8 code cache (dist/cli/BIN.cjs.v8-cache, see
// src/cli/start.cts) exists from the first real command on: module loading is most of a cold
// start; and each quick start once on a directory that is no node (an error, of status 3): tree
// for dist/cli/quick.cjs's, an install for dist/cli/quick-dnf.cjs's (recorded as a failed
// install, so that the first install that runs grows the cache by the code a transaction runs).
// Run last in npm run build; a failure here only costs the first run its cache.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const start = fileURLToPath(new URL('../dist/src/cli/start.cjs', import.meta.url));
for (const bin of ['redmanager', 'redwrap-dnf', 'redwrap']) {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // as bin/ starts it
  const result = spawnSync(process.execPath, [start, bin, '--help'], { stdio: 'ignore', env });
  if (result.status !== 0) process.stderr.write(`warm-code-cache: ${bin} --help exited with ${result.status}\n`);
}
const notNode = mkdtempSync(join(tmpdir(), 'redpak-warm-'));
const quickStarts = [
  ['redmanager', 'tree', '--redroot', notNode],
  ['redwrap-dnf', '--redpath', notNode, '-y', 'install', 'redhello'],
];
for (const args of quickStarts) {
  const quick = spawnSync(process.execPath, [start, ...args], { stdio: 'ignore' });
  if (quick.status !== 3)
    process.stderr.write(`warm-code-cache: the quick start of ${args[0]} exited with ${quick.status}\n`);
}
rmSync(notNode, { recursive: true, force: true });
