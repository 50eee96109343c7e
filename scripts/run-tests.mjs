#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js), or those under the given folders of
// test/ (e.g. `npm test -- unit golden`). Helpers next to the tests are not run as tests.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2).length ? process.argv.slice(2).map((d) => join('dist/test', d.replace(/^test\//, ''))) : ['dist/test'];
const files = roots.flatMap((root) =>
  root.endsWith('.js')
    ? [root]
    : readdirSync(root, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.test.js'))
        .map((f) => join(root, f)),
);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
