/**
 * A launch plan cached before a child started loosening its parent is not served by the fast
 * launcher: the family is compiled again by the full CLI, which refuses it. The loosening is
 * written over the leaf config with the size, inode and mtime it had, so that only the stamp's
 * ctime tells the two apart (plans of an older compiler are refused by FAST_PLAN_VERSION).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { forgetCachedPlans, redwrap, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';

const ROOT = `headers:
  alias: root
exports:
${HOST_USR_EXPORTS}  - {mode: Restricted, mount: /data, path: $NODE_PATH/data}
`;
// Same length: `Restricted` and `Public    ` (padded), so the file keeps its size.
const LEAF = (mode: string) => `headers:\n  alias: leaf\nexports:\n  - {mode: ${mode}, mount: /data/, path: /srv}\n`;

describe('fast path and the no-loosening rules', { skip: WITHOUT_FAST_LAUNCHER }, () => {
  it('a cached plan is not served once the child loosens, and the full CLI refuses it', async (t) => {
    const dir = tempDir(t);
    const root = makeNode(dir, join(dir, 'root'), 'root', ROOT);
    const leaf = makeNode(dir, join(root, 'leaf'), 'leaf', LEAF('Restricted'));
    forgetCachedPlans(t, leaf);
    const fastOnly = { REDWRAP_NO_FALLBACK: '1' };
    assert.equal((await redwrap(['--redpath', leaf, '--', 'true'])).status, 0);
    assert.equal(
      (await redwrap(['--redpath', leaf, '--', 'true'], { env: fastOnly })).status,
      0,
      'served from the cache',
    );

    // The leaf now loosens /data, its config file keeping size, inode and times.
    const config = join(leaf, 'etc/redpak.yaml');
    const before = statSync(config, { bigint: true });
    const loosened = readFileSync(config, 'utf8').replace('mode: Restricted', 'mode: Public    ');
    writeFileSync(config, loosened);
    const ns = before.mtimeNs;
    execFileSync('touch', [
      '-m',
      '-d',
      `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`,
      config,
    ]);
    const after = statSync(config, { bigint: true });
    assert.deepEqual(
      [after.size, after.ino, after.mtimeNs],
      [before.size, before.ino, before.mtimeNs],
      'config file looks unchanged',
    );
    assert.equal(
      (await redwrap(['--redpath', leaf, '--', 'true'], { env: fastOnly })).status,
      10,
      'the cached plan is not served (its stamp has the ctime)',
    );
    const refused = await redwrap(['--redpath', leaf, '--', 'true']);
    assert.equal(refused.status, 5, refused.stderr);
    assert.match(refused.stderr, /leaf .* loosens its ancestor root .*: export \/data: Public/);
  });
});
