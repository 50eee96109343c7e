#!/usr/bin/env node
// Runs each executable once (--help), so that its V8 code cache (dist/cli/BIN.cjs.v8-cache, see
// src/cli/start.cts) exists from the first real command on: module loading is most of a cold
// start. Run last in npm run build; a failure here only costs the first run its cache.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const start = fileURLToPath(new URL('../dist/src/cli/start.cjs', import.meta.url));
for (const bin of ['redmanager', 'redwrap-dnf', 'redwrap']) {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // as bin/ starts it
  const result = spawnSync(process.execPath, [start, bin, '--help'], { stdio: 'ignore', env });
  if (result.status !== 0) process.stderr.write(`warm-code-cache: ${bin} --help exited with ${result.status}\n`);
}
