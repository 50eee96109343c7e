#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js), or those under the given folders or files
// of test/ (e.g. `npm test -- unit golden`, `npm test -- cli/apply.test.js`). Helpers next to the
// tests are not run as tests. `npm test -- --fast` runs the fast lane: the files test/fast-lane.txt
// names, each with test/helpers/fast-lane-guard.ts loaded first, which fails a file that starts a
// process (test/README.md).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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
/**
 * Some tests run the built executables as throwaway users (test/helpers/users.ts), who must reach
 * the checkout: run as root from a clone inside a private directory (`mktemp -d` makes it 0700),
 * each such directory on the way gets others' search permission (x, never read) for the run, and
 * its mode back at the end.
 */
function openPathForUsers(dir) {
  const opened = [];
  if (process.getuid?.() !== 0) return opened;
  for (let d = resolve(dir); ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(d, mode | 0o001);
      opened.push([d, mode]);
    }
    if (d === dirname(d)) break;
  }
  if (opened.length)
    process.stderr.write(
      `tests: others may search ${opened.map(([d]) => d).join(', ')} during the run (the throwaway users reach the checkout)\n`,
    );
  return opened;
}

const guard = fast ? ['--import', './dist/test/helpers/fast-lane-guard.js'] : [];
const opened = openPathForUsers(process.cwd());
// The run ends with the test runner (which gets the signal too); the modes are given back after it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
// The host's /etc/dnf/dnf.conf (and its vars/) is not read: results must not depend on the machine.
const result = spawnSync(process.execPath, [...guard, '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, REDPAK_DNF_CONF: '' },
});
for (const [dir, mode] of opened) chmodSync(dir, mode);
process.exit(result.status ?? 1);
