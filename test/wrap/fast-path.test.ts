/**
 * The fast launch path: the first launch compiles and caches the plan; later launches are served
 * by dist/bin/redwrap-launch from the cache (REDWRAP_NO_FALLBACK makes it fail instead of handing
 * over to the full CLI, which proves who served a launch), give the same sandbox as the full
 * CLI, and a change to anything the plan was computed from sends the launch back to the CLI.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { cachedPlanPath, forgetCachedPlans, redwrap, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';

const ROOT_CONFIG = `headers:
  alias: root
config:
  hostname: fast-$LEAF_ALIAS
  umask: "027"
  path: /usr/bin:/bin
  capabilities:
    - cap: ALL
      add: 0
exports:
${HOST_USR_EXPORTS}  - {mode: Procfs, mount: /proc}
  - {mode: Devfs, mount: /dev}
  - {mode: Tmpfs, mount: /tmp}
  - {mode: Execfd, mount: /etc/motd, path: echo from-execfd}
environ:
  - {key: GREETING, value: hello-$NODE_ALIAS-$LEAF_ALIAS}
  - {key: FROM_CALLER, mode: Inherit}
  - {key: COMPUTED, mode: Execfd, value: echo computed}
seccomp:
  rules:
    - {syscall: [mkdir, mkdirat], action: errno}
`;

const LEAF_CONFIG = `headers:
  alias: leaf
exports:
  - {mode: Public, mount: /work, path: $NODE_PATH/work}
`;

/** What a process sees, in one line per fact. */
const PROBE = [
  'sh',
  '-c',
  'hostname; umask; echo "$GREETING/$FROM_CALLER/$COMPUTED"; cat /etc/motd; grep -E "^(CapEff|Seccomp_filters)" /proc/self/status; mkdir /tmp/x 2>&1 | head -1; touch /work/f && echo wrote',
];

function family(t: TestContext): { leaf: string; root: string; dir: string } {
  const dir = tempDir(t);
  const root = join(dir, 'a', 'root');
  const leaf = join(root, 'mid', 'leaf');
  makeNode(dir, root, 'root', ROOT_CONFIG);
  makeNode(dir, leaf, 'leaf', LEAF_CONFIG);
  forgetCachedPlans(t, leaf);
  return { dir, root, leaf };
}

const fastOnly = { REDWRAP_NO_FALLBACK: '1' };

describe('redwrap fast path', { skip: WITHOUT_FAST_LAUNCHER }, () => {
  it('serves the second launch from the cached plan, with the same sandbox as the full CLI', async (t) => {
    const { leaf } = family(t);
    const env = { FROM_CALLER: 'caller' };
    const refused = await redwrap(['--redpath', leaf, '--', ...PROBE], { env: { ...env, ...fastOnly } });
    assert.equal(refused.status, 10, 'no plan yet: the launcher refuses rather than compiling');
    const first = await redwrap(['--redpath', leaf, '--', ...PROBE], { env });
    assert.equal(first.status, 0, first.stderr);
    assert.ok(existsSync(cachedPlanPath(leaf)), "plan cached in the caller's cache directory");
    assert.ok(!existsSync(join(leaf, '.redpak')), 'nothing cached in the node');
    const second = await redwrap(['--redpath', leaf, '--', ...PROBE], { env: { ...env, ...fastOnly } });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.match(
      first.stdout,
      /^fast-leaf\n0027\nhello-root-leaf\/caller\/computed\n\nfrom-execfd\nCapEff:\t0{16}\nSeccomp_filters:\t1\nmkdir: .*Operation not permitted\nwrote\n/,
    );
  });

  it('leaves a launch with cgroup limits to the full CLI (it keeps its own processes out of them)', async (t) => {
    const dir = tempDir(t);
    const config = ROOT_CONFIG.replace('alias: root', 'alias: limited').replace(
      'config:\n',
      'config:\n  cgroups:\n    pids:\n      max: 64\n',
    );
    const limited = makeNode(dir, join(dir, 'limited'), 'limited', config);
    forgetCachedPlans(t, limited);
    const first = await redwrap(['--redpath', limited, '--', 'true']);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(!existsSync(cachedPlanPath(limited)), 'no plan cached');
    assert.equal((await redwrap(['--redpath', limited, '--', 'true'], { env: fastOnly })).status, 10);
  });

  it('leaves a launch reading a variable the system fills in to the full CLI, which reads it again', async (t) => {
    // HOSTNAME unset: its value comes from the kernel's hostname, which a plan could not check again.
    const dir = tempDir(t);
    const config = ROOT_CONFIG.replace('alias: root', 'alias: named').replace('fast-$LEAF_ALIAS', 'on-$HOSTNAME');
    const named = makeNode(dir, join(dir, 'named'), 'named', config);
    forgetCachedPlans(t, named);
    const unset = { HOSTNAME: undefined };
    const first = await redwrap(['--redpath', named, '--', 'hostname'], { env: unset });
    assert.equal(first.status, 0, first.stderr);
    assert.ok(!existsSync(cachedPlanPath(named)), 'no plan cached');
    assert.equal(
      (await redwrap(['--redpath', named, '--', 'hostname'], { env: { ...unset, ...fastOnly } })).status,
      10,
    );
    // Given in the environment, it is checked again at each launch like any variable: cached.
    const given = await redwrap(['--redpath', named, '--', 'hostname'], { env: { HOSTNAME: 'box' } });
    assert.equal(given.stdout, 'on-box\n');
    assert.ok(existsSync(cachedPlanPath(named)), 'plan cached');
  });

  it('passes the exit status through and keeps the options it does not know for the full CLI', async (t) => {
    const { leaf } = family(t);
    assert.equal((await redwrap(['--redpath', leaf, '--', 'true'])).status, 0);
    assert.equal((await redwrap(['--redpath', leaf, '--', 'sh', '-c', 'exit 7'], { env: fastOnly })).status, 7);
    assert.equal((await redwrap(['--redpath', leaf, '--', 'sh', '-c', 'kill -9 $$'], { env: fastOnly })).status, 137);
    const dump = await redwrap(['--redpath', leaf, '--dump-only', '--', 'true'], { env: fastOnly });
    assert.equal(dump.status, 10, 'an option only the CLI knows is handed over');
    assert.match((await redwrap(['--redpath', leaf, '--dump-only', '--', 'true'])).stdout, /^DUMP: /);
  });

  it('hands over to the full CLI when a config, a status, the family or an environment variable changed', async (t) => {
    const { leaf, root } = family(t);
    const launch = (env: Record<string, string> = {}) =>
      redwrap(['--redpath', leaf, '--', 'sh', '-c', 'echo "$GREETING/$FROM_CALLER"'], {
        env: { FROM_CALLER: 'a', ...env },
      });
    const warm = async () => assert.equal((await launch()).status, 0);

    await warm();
    assert.equal((await launch(fastOnly)).status, 0, 'fresh');
    appendFileSync(join(root, 'etc/redpak.yaml'), '# edited\n');
    assert.equal((await launch(fastOnly)).status, 10, 'an ancestor config changed');
    await warm();
    assert.equal((await launch({ ...fastOnly, FROM_CALLER: 'b' })).status, 10, 'an Inherit variable changed');
    await warm();
    // A directory between leaf and root becoming a node changes the family.
    mkdirSync(join(root, 'mid', 'etc'), { recursive: true });
    writeFileSync(join(root, 'mid', 'etc', 'redpak.yaml'), 'headers:\n  alias: mid\n');
    writeFileSync(join(root, 'mid', '.rednode.yaml'), `realpath: ${join(root, 'mid')}\ntimestamp: 1\nstate: Enable\n`);
    assert.equal((await launch(fastOnly)).status, 10, 'a node appeared in the family');
    await warm();
    assert.equal((await launch(fastOnly)).status, 0);
    const status = join(leaf, '.rednode.yaml');
    writeFileSync(status, `realpath: ${leaf}\ntimestamp: 2\nstate: Disable\n`);
    assert.equal((await launch(fastOnly)).status, 10, 'the node was disabled');
    const refused = await launch();
    assert.equal(refused.status, 3, 'and the full CLI refuses it');
    assert.match(refused.stderr, /leaf .* is disabled/);
  });
});
