/**
 * A config's Execfd command comes from a node, which is untrusted: on both launch paths it runs in
 * the same bubblewrap sandbox (src/system/host-facts.ts sandboxArgv, and its copy in the fast
 * launcher, src/launcher/redwrap-launch.c exec_sandboxed_script), never as restricted bash on the
 * host. One script reports what it sees; the full CLI and the fast launcher must print the same,
 * and a script that tries to write a host file fails the launch on both.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { forgetCachedPlans, redwrap, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';

const config = (script: string) => `headers:
  alias: execfd
config:
  path: /usr/bin:/bin
exports:
${HOST_USR_EXPORTS}  - {mode: Execfd, mount: /etc/motd, path: "${script}"}
`;

// What the command sees: its root, its /tmp, its capabilities, its environment, its network.
const REPORT =
  "ls -A /; ls -A /tmp; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; env | sort; ls /sys/class/net 2>&1 | sort";

describe('Execfd commands run sandboxed on both launch paths', { skip: WITHOUT_FAST_LAUNCHER }, () => {
  it('sees the same sandbox from the full CLI and from the fast launcher', async (t) => {
    const dir = tempDir(t);
    const leaf = makeNode(dir, join(dir, 'n'), 'execfd', config(REPORT));
    forgetCachedPlans(t, leaf);
    const full = await redwrap(['--redpath', leaf, '--', 'cat', '/etc/motd'], { env: { REDWRAP_NO_CACHE: '1' } });
    assert.equal(full.status, 0, full.stderr);
    const warm = await redwrap(['--redpath', leaf, '--', 'true']);
    assert.equal(warm.status, 0, warm.stderr);
    const fast = await redwrap(['--redpath', leaf, '--', 'cat', '/etc/motd'], { env: { REDWRAP_NO_FALLBACK: '1' } });
    assert.equal(fast.status, 0, fast.stderr);
    assert.equal(fast.stdout, full.stdout);
    assert.match(full.stdout, /^CapEff:\s+0+$/m, 'no capability');
    assert.match(full.stdout, /^PATH=\/usr\/bin:\/bin$/m);
    assert.doesNotMatch(full.stdout, /^(HOME|USER|LANG)=/m, 'nothing of the caller’s environment');
    assert.doesNotMatch(
      full.stdout,
      /\bnode_modules\b|\bwork\b|\broot\b/,
      'no host directory but /usr and a few /etc files',
    );
  });

  it('cannot write a host file, on either path', async (t) => {
    const dir = tempDir(t);
    const marker = join(dir, 'written-by-execfd');
    const leaf = makeNode(dir, join(dir, 'n'), 'execfd', config(`touch ${marker}`));
    forgetCachedPlans(t, leaf);
    // The full CLI compiles and caches the plan, then the command fails in its sandbox.
    const full = await redwrap(['--redpath', leaf, '--', 'true']);
    assert.notEqual(full.status, 0, 'the launch fails');
    assert.equal(existsSync(marker), false, 'the full CLI ran the command on the host');
    // The fast launcher serves the cached plan and runs the command itself: sandboxed as well.
    const fast = await redwrap(['--redpath', leaf, '--', 'true'], { env: { REDWRAP_NO_FALLBACK: '1' } });
    assert.equal(fast.status, 10, fast.stderr);
    assert.match(fast.stderr, /command failed/, 'the fast launcher ran the command (and it failed)');
    assert.equal(existsSync(marker), false, 'the fast launcher ran the command on the host');
  });
});
