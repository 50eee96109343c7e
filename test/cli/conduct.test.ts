/**
 * How the three executables behave at the edges of their grammar, as users and scripts meet them:
 * unknown commands, help and version, usage errors under --json, options before or after the
 * command word, repeatable options followed by arguments, and the same short option meaning the
 * same thing in every command.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from '../pkg/helpers/nodes.js';

type FlagShape = { type: string; char?: string; aliases?: string[]; multiple?: boolean; multipleNonGreedy?: boolean };
type CommandTable = Record<string, { flags?: Record<string, FlagShape> }>;

/** The command table an executable's bundle carries (what oclif runs). */
function commandsOf(bin: 'redmanager' | 'redwrap-dnf'): CommandTable {
  return (createRequire(import.meta.url)(`${PACKAGE_ROOT}/dist/cli/${bin}.cjs`) as { COMMANDS: CommandTable }).COMMANDS;
}

describe('command-line conduct', () => {
  let f: NodeFamily;
  let repo: string;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
    repo = (await fixtureRepo()).repoDir;
  });
  after(() => f.cleanup());

  it('an unknown command exits 2, names the word and suggests the closest command', async () => {
    const typo = await runCommand('redwrap-dnf', ['--redpath', f.app, 'instal', 'redhello']);
    assert.equal(typo.status, 2);
    assert.equal(
      typo.stderr,
      "redwrap-dnf: error: unknown command 'instal'\n  hint: did you mean 'install'? ('redwrap-dnf --help' lists the commands)\n",
    );
    const tree = await runCommand('redmanager', ['tre']);
    assert.equal(tree.status, 2);
    assert.match(tree.stderr, /unknown command 'tre'\n {2}hint: did you mean 'tree'\?/);
    const json = await runCommand('redwrap-dnf', ['--json', '--redpath', f.app, 'instal', 'x']);
    assert.equal(json.status, 2);
    assert.deepEqual(json.json, {
      error: {
        code: 'usage',
        message: "unknown command 'instal'",
        hint: "did you mean 'install'? ('redwrap-dnf --help' lists the commands)",
      },
    });
    assert.equal(json.stderr, '');
  });

  it('a usage error under --json is the documented error document, exit 2', async () => {
    const bogus = await runCommand('redmanager', ['tree', '--json', '--bogus']);
    assert.equal(bogus.status, 2);
    assert.deepEqual(bogus.json, {
      error: {
        code: 'usage',
        message: 'Nonexistent flag: --bogus',
        hint: "usage: redmanager tree [--json] [-r <value>] [--root SYSROOT]; 'redmanager tree --help' explains the arguments",
      },
    });
    const notInteger = await runCommand('redwrap-dnf', ['--redpath', f.app, '--lock-wait', 'x', 'list', '--json']);
    assert.equal(notInteger.status, 2);
    assert.equal(notInteger.json.error.message, '--lock-wait: Expected an integer but received: x');
    const plain = await runCommand('redmanager', ['tree', '--bogus']);
    assert.equal(plain.status, 2);
    assert.equal(plain.stderr, `redmanager: error: Nonexistent flag: --bogus\n  hint: ${bogus.json.error.hint}\n`);
  });

  it('help, -h and --version work on all three executables', async () => {
    for (const bin of ['redmanager', 'redwrap-dnf', 'redwrap'] as const) {
      for (const args of [['help'], ['-h'], ['--help']]) {
        const r = await runCommand(bin, args);
        assert.equal(r.status, 0, `${bin} ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stdout, /USAGE/, `${bin} ${args.join(' ')}`);
      }
      const version = await runCommand(bin, ['--version']);
      assert.equal(version.status, 0, version.stderr);
      assert.match(version.stdout, /^redpak-ts\/\d+\.\d+\.\d+ linux-\S+ node-v\d+/);
    }
    const install = await runCommand('redwrap-dnf', ['help', 'install']);
    assert.match(install.stdout, /\$ redwrap-dnf install PACKAGES/);
    assert.equal((await runCommand('redwrap-dnf', ['install', '-h'])).stdout, install.stdout);
  });

  it('takes options before the command word, value options included, and a repeatable option before the packages', async () => {
    const before = snapshotNode(f.app);
    const rel = relative(f.dir, repo);
    for (const args of [
      ['--redpath', f.app, '--no-repo-files', '--repo-dir', repo, 'install', 'redhello', '--assumeno', '--json'],
      [
        '--keep-generations',
        '3',
        '--redpath',
        f.app,
        'install',
        '--no-repo-files',
        '--repo-dir',
        repo,
        'redhello',
        '--assumeno',
        '--json',
      ],
      ['install', '--redpath', f.app, '--no-repo-files', '--repo-dir', rel, 'redhello', '--assumeno', '--json'],
    ]) {
      const r = await runCommand('redwrap-dnf', args, { cwd: f.dir });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json.status, 'cancelled');
      assert.ok(
        r.json.packages.some((p: { name: string }) => p.name === 'redhello'),
        r.stdout,
      );
    }
    assert.deepEqual(snapshotNode(f.app), before, '--assumeno changed nothing');
    const imported = await runCommand('redmanager', [
      'import',
      '--verify-key',
      'KEY.asc',
      'ARCHIVE.tar',
      '--redpath',
      f.app,
    ]);
    assert.equal(imported.status, 1, imported.stderr);
    assert.match(imported.stderr, /ARCHIVE\.tar/, 'the archive is read as the argument, not as a second key');
  });

  it('check resolves a relative --repo-dir against the current directory', async () => {
    const r = await runCommand(
      'redmanager',
      ['check', '--redpath', f.app, '--upgrade', '', '--repo-dir', relative(f.dir, repo), '--json'],
      {
        cwd: f.dir,
      },
    );
    assert.ok([0, 24].includes(r.status ?? -1), r.stdout + r.stderr);
    assert.ok(r.json.findings, 'a check report, not a repository error');
  });

  it('a value option before the command word is read as each command declares it', async () => {
    // --config takes a file in create-node and is a flag of check.
    const check = await runCommand('redmanager', ['--config', '--redroot', f.sys, 'check', '--json']);
    assert.ok([0, 24].includes(check.status ?? -1), check.stderr);
    assert.ok(check.json.findings);
  });

  it('-y is --assumeyes, -r the node, and no repeatable option swallows the arguments after it, in every command', () => {
    for (const bin of ['redmanager', 'redwrap-dnf'] as const) {
      for (const [id, command] of Object.entries(commandsOf(bin))) {
        for (const [name, flag] of Object.entries(command.flags ?? {})) {
          if (flag.char === 'y') assert.equal(name, 'assumeyes', `${bin} ${id}: -y is --${name}`);
          if (flag.char === 'r')
            assert.ok(name === 'redpath' || flag.aliases?.includes('redpath'), `${bin} ${id}: -r is --${name}`);
          if (flag.multiple && flag.type === 'option')
            assert.ok(flag.multipleNonGreedy, `${bin} ${id}: --${name} is greedy`);
        }
      }
    }
  });
});
