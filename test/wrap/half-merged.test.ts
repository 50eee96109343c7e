/**
 * A node whose package merge was interrupted (the journal `.redpak-stage/MERGE` is there: some new
 * files under the old rpm database) is not launched, on either path, until a package command
 * completes the merge (docs/transactions.md).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { forgetCachedPlans, redwrap } from '../helpers/redwrap.js';
import { MERGE_JOURNAL, STAGE_DIR } from '../../src/node/layout.js';

const ROOT = `headers:
  alias: plat
exports:
${HOST_USR_EXPORTS}`;

describe('a half-merged node', () => {
  it('is launched by neither path until its merge is completed', async (t) => {
    const dir = tempDir(t);
    const plat = makeNode(dir, join(dir, 'plat'), 'plat', ROOT);
    const app = makeNode(dir, join(plat, 'app'), 'app', 'headers:\n  alias: app\n');
    forgetCachedPlans(t, app);
    assert.equal((await redwrap(['--redpath', app, '--', 'true'])).status, 0);
    assert.equal(
      (await redwrap(['--redpath', app, '--', 'true'], { env: { REDWRAP_NO_FALLBACK: '1' } })).status,
      0,
      'served from the cache',
    );

    // The ancestor's merge was interrupted after its commit point.
    mkdirSync(join(plat, STAGE_DIR));
    writeFileSync(join(plat, STAGE_DIR, MERGE_JOURNAL), '{}');
    const fast = await redwrap(['--redpath', app, '--', 'true'], { env: { REDWRAP_NO_FALLBACK: '1' } });
    assert.equal(fast.status, 10, 'the fast launcher does not serve it');
    const full = await redwrap(['--redpath', app, '--', 'true']);
    assert.equal(full.status, 10, full.stderr);
    assert.match(full.stderr, /node plat \(.*\) holds an interrupted package transaction/);
    assert.match(full.stderr, /redwrap-dnf --redpath .*plat list --installed/);
    const dump = await redwrap(['--redpath', app, '--dump-only']);
    assert.equal(dump.status, 0, 'the plan can still be shown');

    rmSync(join(plat, STAGE_DIR), { recursive: true });
    assert.equal((await redwrap(['--redpath', app, '--', 'true'])).status, 0, 'launched again once the merge is done');
  });
});
