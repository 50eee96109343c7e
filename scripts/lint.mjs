#!/usr/bin/env node
// The project's static checks, in one run (npm run lint, ./dev test, CI): the TypeScript types,
// biome's lint rules and formatting, knip's dead-code report, and the Python with flake8 and
// pyright. Every step runs even when an earlier one fails; the summary names the failed steps and
// the exit status is 1 if any failed. `--no-format-check` leaves out biome's formatting check.
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const formatCheck = !process.argv.includes('--no-format-check');
// The tools installed as devDependencies, also when this script runs without npm.
const env = { ...process.env, PATH: [join(root, 'node_modules/.bin'), process.env.PATH].join(delimiter) };

/** The repository's tracked Python files (the solver and anything next to it). */
function pythonFiles() {
  const listed = spawnSync('git', ['ls-files', '-z', '*.py'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr || listed.error}`);
  return listed.stdout.split('\0').filter(Boolean);
}

const steps = [
  { name: 'tsc', argv: ['tsc', '-p', 'tsconfig.json', '--noEmit'] },
  {
    name: 'biome',
    argv: ['biome', 'check', '--error-on-warnings', ...(formatCheck ? [] : ['--formatter-enabled=false'])],
  },
  { name: 'knip', argv: ['knip'] },
  { name: 'flake8', argv: ['flake8', ...pythonFiles()] },
  // The interpreter the solver runs with (src/pkg/solver.ts), where python3-solv is installed.
  { name: 'pyright', argv: ['pyright', '--pythonpath', '/usr/bin/python3'] },
];

const failed = [];
for (const { name, argv } of steps) {
  process.stdout.write(`lint: ${name}\n`);
  const [command, ...args] = argv;
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  if (result.error) process.stderr.write(`lint: ${name}: ${result.error.message}\n`);
  if (result.status !== 0) failed.push(name);
}
if (failed.length) {
  process.stderr.write(`lint: failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write('lint: all checks passed\n');
