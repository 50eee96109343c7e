/**
 * `redmanager service`: the unit it writes (checked by systemd itself with `systemd-analyze
 * verify`), rootless units in ~/.config/systemd/user, arguments systemd would otherwise rewrite,
 * and the refusals that write nothing (no systemd running for --install, not a node, bad names).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeNode, tempDir } from '../helpers/family.js';
import { PACKAGE_ROOT, runBin } from '../helpers/cli.js';

const ANALYZE = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
const withoutAnalyze = ANALYZE ? false : 'systemd-analyze is not installed (./dev installs the systemd package)';
const systemdRuns = existsSync('/run/systemd/system');

const conf = (alias: string) => `headers:\n  alias: ${alias}\nexports:\n  - {mode: Restricted, mount: /usr}\n`;

/** systemd's own reading of the unit: status 0 and nothing on stderr. */
function verify(file: string, user = false, env: Record<string, string> = {}): void {
  const run = spawnSync('systemd-analyze', [...(user ? ['--user'] : []), 'verify', file], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr.trim(), '', 'no warning');
}

describe('redmanager service', () => {
  it('writes a system unit that systemd accepts, with the arguments passed unchanged', {
    skip: withoutAnalyze,
  }, (t) => {
    const dir = tempDir(t, 'redpak-service-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP'));
    const out = join(dir, 'units');
    // %, $, quotes, backslashes and a newline: systemd would expand or split them unescaped.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text ${PATH}, which systemd would expand
    const hostile = ['/usr/bin/printf', '50%% of $HOME "quoted" \\n back\\slash', 'two\nlines', '%n', '${PATH}', ''];
    const run = runBin('redmanager', [
      'service',
      '--redpath',
      node,
      '--output-dir',
      out,
      '--restart',
      'always',
      '--json',
      '--',
      ...hostile,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const file = join(out, 'redpak-APP.service');
    assert.equal(run.json.file, file);
    assert.equal(run.json.installed, false);
    const text = readFileSync(file, 'utf8');
    assert.equal(run.json.unit, text);
    for (const line of [
      'Type=exec',
      'KillMode=control-group',
      'Delegate=yes',
      'Restart=always',
      'StandardOutput=journal',
      'StandardError=journal',
      'SyslogIdentifier=redpak-APP',
      'WantedBy=multi-user.target',
    ])
      assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
    const execStart = text.split('\n').find((l) => l.startsWith('ExecStart='));
    assert.equal(
      execStart,
      `ExecStart="${join(PACKAGE_ROOT, 'bin/redwrap')}" "--redpath" "${node}" "--" "/usr/bin/printf" "50%%%% of $$HOME \\"quoted\\" \\\\n back\\\\slash" "two\\x0alines" "%%n" "$\${PATH}" ""`,
    );
    verify(file);
  });

  it('--user: a rootless unit in ~/.config/systemd/user ($XDG_CONFIG_HOME), wanted by default.target', {
    skip: withoutAnalyze,
  }, (t) => {
    const dir = tempDir(t, 'redpak-service-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP'));
    const home = join(dir, 'home');
    const runtime = join(dir, 'runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const run = runBin(
      'redmanager',
      ['service', '--redpath', node, '--user', '--name', 'my-app', '--json', '--', '/bin/true'],
      {
        env: { HOME: home, XDG_CONFIG_HOME: '' },
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const file = join(home, '.config/systemd/user/my-app.service');
    assert.equal(run.json.file, file);
    assert.match(readFileSync(file, 'utf8'), /^WantedBy=default\.target$/m);
    verify(file, true, { XDG_RUNTIME_DIR: runtime, HOME: home });

    const config = join(dir, 'config');
    const elsewhere = runBin('redmanager', ['service', '--redpath', node, '--user', '--', '/bin/true'], {
      env: { HOME: home, XDG_CONFIG_HOME: config },
    });
    assert.equal(elsewhere.status, 0, elsewhere.stderr);
    assert.ok(existsSync(join(config, 'systemd/user/redpak-APP.service')));
  });

  it('--install without a running systemd: refused with the reason, nothing written', {
    skip: systemdRuns ? 'systemd runs here' : false,
  }, (t) => {
    const dir = tempDir(t, 'redpak-service-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP'));
    const home = join(dir, 'home');
    const run = runBin('redmanager', ['service', '--redpath', node, '--user', '--install', '--', '/bin/true'], {
      env: { HOME: home },
    });
    assert.equal(run.status, 6, run.stderr);
    assert.match(run.stderr, /cannot install redpak-APP\.service: systemd is not running on this system/);
    assert.match(run.stderr, /hint: without --install the unit is only written/);
    assert.equal(existsSync(home), false, 'no unit written');
    const json = runBin(
      'redmanager',
      ['service', '--redpath', node, '--user', '--install', '--json', '--', '/bin/true'],
      { env: { HOME: home } },
    );
    assert.equal(json.json.error.code, 'tool-missing');
  });

  it('refuses a directory that is not a node, a bad name, a ";" argument and no program, writing nothing', (t) => {
    const dir = tempDir(t, 'redpak-service-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP'));
    const out = join(dir, 'units');
    const service = (...args: string[]) => runBin('redmanager', ['service', '--output-dir', out, ...args]);
    const notNode = service('--redpath', dir, '--', '/bin/true');
    assert.equal(notNode.status, 3, notNode.stderr);
    assert.match(notNode.stderr, /is not a node/);
    const badName = service('--redpath', node, '--name', 'a/b', '--', '/bin/true');
    assert.equal(badName.status, 2);
    assert.match(badName.stderr, /"a\/b" is not a valid systemd unit name/);
    const semicolon = service('--redpath', node, '--', '/bin/sh', ';');
    assert.equal(semicolon.status, 2);
    assert.match(semicolon.stderr, /separates commands in ExecStart/);
    const noProgram = service('--redpath', node);
    assert.equal(noProgram.status, 2);
    assert.match(noProgram.stderr, /no program to run/);
    assert.equal(existsSync(out) ? readdirSync(out).length : 0, 0);
  });
});
