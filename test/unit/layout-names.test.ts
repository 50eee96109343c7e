/**
 * Where a node keeps its files is written once, in src/node/layout.ts: a path of the node layout
 * spelled as a string anywhere else in src/ would drift from it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packagePath } from '../../src/package-root.js';

/** A string literal starting with a node-layout path (`$NODE_PATH/…` is a config variable, not one). */
const LAYOUT_NAMES = [
  'etc/redpac?k(-admin)?\\.yaml',
  '\\.rednode\\.yaml',
  '\\.redpak(-stage)?',
  'var/lib/rpm',
  'etc/yum\\.repos\\.d',
];
const LAYOUT_LITERAL = new RegExp(`['\`](${LAYOUT_NAMES.join('|')})['\`/]`);
const OWNER = 'src/node/layout.ts';
/** Comments may name the files. */
const isComment = (line: string) => /^\s*(\/\/|\/\*|\*)/.test(line);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('node layout names', () => {
  it('are string literals only in src/node/layout.ts', () => {
    const root = packagePath();
    const offenders = sources(packagePath('src'))
      .map((file) => relative(root, file))
      .filter((file) => file !== OWNER)
      .flatMap((file) =>
        readFileSync(join(root, file), 'utf8')
          .split('\n')
          .flatMap((line, index) =>
            LAYOUT_LITERAL.test(line) && !isComment(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
          ),
      );
    assert.deepEqual(offenders, []);
  });
});
