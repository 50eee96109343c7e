#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js), or those under the given folders or files
// of test/ (e.g. `npm test -- unit golden`, `npm test -- cli/apply.test.js`). Helpers next to the
// tests are not run as tests. `npm test -- --fast` runs the fast lane: the files test/fast-lane.txt
// names, each with test/helpers/fast-lane-guard.ts loaded first, which fails a file that starts a
// process (test/README.md).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const given = args.filter((arg) => arg !== '--fast');

/** The entries of test/fast-lane.txt (folders or files of test/); one that no longer exists is an error. */
function fastLane() {
  const entries = readFileSync('test/fast-lane.txt', 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  const missing = entries.filter((entry) => !existsSync(join('test', entry)));
  if (missing.length) {
    process.stderr.write(`test/fast-lane.txt names what test/ does not have: ${missing.join(', ')}\n`);
    process.exit(1);
  }
  return entries.map((entry) => entry.replace(/\.ts$/, '.js'));
}

if (fast && given.length) {
  process.stderr.write('--fast runs the files test/fast-lane.txt names: give it alone\n');
  process.exit(2);
}
const selected = fast ? fastLane() : given;
const roots = selected.length ? selected.map((d) => join('dist/test', d.replace(/^test\//, ''))) : ['dist/test'];
const files = roots.flatMap((root) =>
  root.endsWith('.js')
    ? [root]
    : readdirSync(root, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.test.js'))
        .map((f) => join(root, f)),
);
const guard = fast ? ['--import', './dist/test/helpers/fast-lane-guard.js'] : [];
// The host's /etc/dnf/dnf.conf (and its vars/) is not read: results must not depend on the machine.
const result = spawnSync(process.execPath, [...guard, '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, REDPAK_DNF_CONF: '' },
});
process.exit(result.status ?? 1);
