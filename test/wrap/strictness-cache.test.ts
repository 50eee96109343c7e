/**
 * A launch plan cached before the no-loosening rules (plan version 2) is not served by the fast
 * launcher: a family that now loosens its parent is compiled again by the full CLI, which refuses
 * it. The loosening is written over the leaf config with the size, inode and times it had, so
 * that only the plan's version tells the two compilers apart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeNode, tempDir } from '../helpers/family.js';
import { PACKAGE_ROOT, redwrap } from '../helpers/redwrap.js';

const LAUNCHER = join(PACKAGE_ROOT, 'dist/bin/redwrap-launch');

const ROOT = `headers:
  alias: root
exports:
  - {mode: Restricted, mount: /usr}
  - {mode: Symlink, mount: /bin, path: usr/bin}
  - {mode: Symlink, mount: /lib, path: usr/lib}
  - {mode: Symlink, mount: /lib64, path: usr/lib64}
  - {mode: Restricted, mount: /data, path: $NODE_PATH/data}
`;
// Same length: `Restricted` and `Public    ` (padded), so the file keeps its size.
const LEAF = (mode: string) => `headers:\n  alias: leaf\nexports:\n  - {mode: ${mode}, mount: /data/, path: /srv}\n`;

describe('fast path and the no-loosening rules', { skip: !existsSync(LAUNCHER) && 'dist/bin/redwrap-launch is not built (no C compiler)' }, () => {
  it('a plan cached by an older compiler is compiled again, and the loosening refused', async (t) => {
    const dir = tempDir(t);
    const root = makeNode(dir, join(dir, 'root'), 'root', ROOT);
    const leaf = makeNode(dir, join(root, 'leaf'), 'leaf', LEAF('Restricted'));
    const fastOnly = { REDWRAP_NO_FALLBACK: '1' };
    assert.equal((await redwrap(['--redpath', leaf, '--', 'true'])).status, 0);
    assert.equal((await redwrap(['--redpath', leaf, '--', 'true'], { env: fastOnly })).status, 0, 'served from the cache');

    // The leaf now loosens /data, its config file keeping size, inode and times.
    const config = join(leaf, 'etc/redpak.yaml');
    const before = statSync(config, { bigint: true });
    const loosened = readFileSync(config, 'utf8').replace('mode: Restricted', 'mode: Public    ');
    writeFileSync(config, loosened);
    const ns = before.mtimeNs;
    execFileSync('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, config]);
    const after = statSync(config, { bigint: true });
    assert.deepEqual([after.size, after.ino, after.mtimeNs], [before.size, before.ino, before.mtimeNs], 'config file looks unchanged');
    assert.equal((await redwrap(['--redpath', leaf, '--', 'true'], { env: fastOnly })).status, 0, 'same plan version: the cache cannot tell');

    // The same plan as an older compiler wrote it.
    const plans = readdirSync(join(leaf, '.redpak')).filter((f) => f.endsWith('.plan'));
    assert.equal(plans.length, 1);
    const planPath = join(leaf, '.redpak', plans[0]!);
    const plan = readFileSync(planPath, 'latin1');
    assert.ok(plan.startsWith('1:v1:3'), 'plan version 3');
    writeFileSync(planPath, plan.replace('1:v1:3', '1:v1:2'), 'latin1');
    assert.equal((await redwrap(['--redpath', leaf, '--', 'true'], { env: fastOnly })).status, 10, 'an older plan is not served');
    const refused = await redwrap(['--redpath', leaf, '--', 'true']);
    assert.equal(refused.status, 5, refused.stderr);
    assert.match(refused.stderr, /leaf .* loosens its ancestor root .*: export \/data: Public/);
  });
});
