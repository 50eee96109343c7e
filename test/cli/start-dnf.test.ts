/**
 * The quick start of redwrap-dnf's transactions and queries (src/cli/quick-transaction.ts, dist/cli/quick-dnf.cjs):
 * each command line it takes gives, on a real family with a real repository, what the full
 * bundle gives through oclif (test/helpers/in-process.ts) — stdout, stderr, exit status and the
 * packages of every node afterwards — the family put back to the same state before each way.
 * The quick way runs from a copy of the package without the full bundle, so that a line it
 * declined would fail there; the lines it declines (help, usage errors, options it does not read,
 * redpak's spelling, oclif's variables) are run by the full bundle, as that copy shows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandWords } from '../../src/cli/command-words.js';
import { manifestCommands } from '../../src/cli/quick-start.js';
import { queryPackages } from '../../src/pkg/installed.js';
import { copyPackageParts, PACKAGE_ROOT, runBin, START_PARTS, type BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import { makeNodeFamily, type NodeFamily } from '../pkg/helpers/nodes.js';

/** What a run gave, and the packages (NEVRA) of every node after it. */
interface Outcome extends BinRun {
  packages: Record<string, string[]>;
}

describe('the quick start of redwrap-dnf transactions and queries', () => {
  let f: NodeFamily;
  let pristine: string;
  let repoDir: string;
  /** The package without redwrap-dnf's full bundle: only the quick start can answer there. */
  const copy = mkdtempSync(join(tmpdir(), 'redpak-quick-dnf-'));
  before(async () => {
    copyPackageParts(copy, [
      ...START_PARTS,
      'dist/cli/quick-dnf.cjs',
      'dist/cli/yaml.cjs',
      'dist/src/pkg/solver-command.cjs',
      'dist/oclif/redwrap-dnf',
      'dist/bwrap-path',
      'src/pkg/redsolver',
    ]);
    f = await makeNodeFamily();
    repoDir = (await fixtureRepo()).repoDir;
    // The platform has libredfoo 1.0 and redfoo-conf (so redhello installs alone into app); app is empty.
    const setUp = await runCommand('redwrap-dnf', [
      '--redpath',
      f.platform,
      '-y',
      'install',
      'libredfoo-1.0',
      'redfoo-conf',
    ]);
    assert.equal(setUp.status, 0, setUp.stderr);
    pristine = `${f.dir}.pristine`;
    copyTree(f.dir, pristine);
  });
  after(() => {
    f.cleanup();
    rmSync(pristine, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  });

  /** The family as it was after set-up (`cp -a`: modes, links and times as they were). */
  function copyTree(from: string, to: string): void {
    rmSync(to, { recursive: true, force: true });
    const r = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }

  /** A command line run from the copy, as bin/ runs it (no terminal). */
  function runCopy(bin: string, args: string[], env: Record<string, string> = {}): BinRun {
    const r = spawnSync('node', [join(copy, 'dist/src/cli/start.cjs'), bin, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let json: unknown;
    try {
      json = args.includes('--json') ? JSON.parse(r.stdout) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
  }

  async function outcome(run: BinRun): Promise<Outcome> {
    const packages: Record<string, string[]> = {};
    for (const node of [f.sys, f.platform, f.app])
      packages[node] = (await queryPackages(node)).map((p) => p.nevra).sort();
    return { ...run, packages };
  }

  /** The line run by `quick` and by the full bundle in-process, each from the family as it was set up. */
  async function bothWays(
    quick: () => BinRun,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<[Outcome, Outcome]> {
    copyTree(pristine, f.dir);
    const first = await outcome(quick());
    copyTree(pristine, f.dir);
    const full = await outcome(await runCommand('redwrap-dnf', args, { env }));
    return [first, full];
  }

  /** Each line it takes, and the exit status it has. */
  const taken = (): [string[], number][] => [
    [['--redpath', f.app, '-y', 'install', 'redhello'], 0],
    [['install', '-y', '--json', `--redpath=${f.app}`, 'redhello'], 0],
    [['--rp', f.app, '--assumeno', 'install', 'redhello'], 0],
    [['-r', f.app, 'install', 'redhello'], 2], // no terminal to confirm: a usage error, from the transaction
    [['--redpath', f.app, '-y', '-q', 'install', 'redhello'], 0],
    [['--redpath', f.app, '-v', '-y', 'install', 'redhello', '--downloadonly'], 0],
    // One value per --repo-dir: the package after it is a package (multipleNonGreedy).
    [['install', '-y', '--redpath', f.app, '--repo-dir', repoDir, 'redhello', '--no-repo-files'], 0],
    [['--redpath', f.app, '-y', '--json', 'install', 'nosuchpackage'], 7],
    [['--redpath', join(f.dir, 'missing'), '-y', 'install', 'redhello'], 3],
    [['--redpath', f.platform, '-y', 'upgrade', 'libredfoo'], 0],
    [['--redpath', f.platform, '-y', '--json', 'reinstall', 'redfoo-conf'], 0],
    [['--redpath', f.platform, '-y', 'remove', 'redfoo-conf'], 0],
    [['--redpath', f.platform, '-y', 'erase', '--json', '--noautoremove', 'libredfoo'], 0],
    [['--redpath', f.platform, '-y', 'downgrade', 'libredfoo'], 7], // nothing older in the repository,
    [['--redpath', f.platform, '-y', 'autoremove'], 0],
    [['--redpath', f.app, '-y', 'remove', 'libredfoo'], 8], // an ancestor's package: refused
    [['--redpath', f.platform, 'list', '--installed', 'lib*', 'redfoo-conf'], 0],
    [['list', '--family', '--json', '--redpath', f.app, 'lib*'], 0],
    [['--redpath', f.app, 'info', 'redhello', 'libredfoo'], 0],
    [['--redpath', f.app, 'search', 'hello'], 0],
    [['--redpath', f.app, '--json', 'search', 'nosuchthing'], 7],
    [['--redpath', f.app, 'whatprovides', 'libredfoo.so.1()(64bit)'], 0],
    [['--redpath', f.app, 'provides', '/usr/bin/redhello'], 0],
    [['--redpath', f.app, 'repoquery', '--whatrequires', 'libredfoo', 'red*'], 0],
    [['repoquery', '-l', '--redpath', f.app, 'redhello'], 0],
    [['--redpath', f.platform, 'check-update', 'libredfoo'], 100],
    [['--redpath', f.platform, 'check-update', '--json', 'redfoo-conf'], 0],
  ];
  const declined = (): [string[], Record<string, string>?][] => [
    [['install', '--help']],
    [['help', 'remove']],
    [['--redpath', f.app, '-y', 'install']], // no package: oclif's usage error
    [['--redpath', f.app, '-yq', 'install', 'redhello']],
    [['--redpath', f.app, '-y', 'install', 'redhello', '--lock-wait', '1']],
    [['--redpath', f.app, '-y', 'install', '--keep-generations=2', 'redhello']],
    [['--redpath', f.app, '-y', 'install', 'redhello', '--bogus']],
    [['--redpath', f.app, '-y', '--assumeno', 'install', 'redhello']],
    [['--redpath', f.app, '-y', 'install', 'redhello', '--', 'redfoo-conf']],
    [['--redpath', f.app, '--releasever', '9', '-y', 'install', '9']],
    [['--redpath', f.app, '-y', 'instal', 'redhello']],
    [['--redpath', f.app, '-y', 'install', 'redhello'], { REDWRAP_DNF_CONTENT_TYPE: 'json' }],
    [['--redpath', f.app, 'info']], // no package: oclif's usage error
    // No package, and a standard input that is not a terminal: oclif reads it for one.
    [['--redpath', f.app, 'list']],
    [['--redpath', f.platform, 'check-update', '--json']],
    [['--redpath', f.app, 'list', '--installed', '--available']], // exclusive options: oclif's to report
  ];
  const missing = /redwrap-dnf\.cjs is missing/;

  it('takes each plain transaction and query and gives what oclif gives: output, status, and the packages of every node', async () => {
    for (const [args, status] of taken()) {
      const [quick, full] = await bothWays(() => runCopy('redwrap-dnf', args), args);
      assert.doesNotMatch(quick.stderr, missing, args.join(' '));
      assert.deepEqual(quick, full, args.join(' '));
      assert.equal(quick.status, status, `${args.join(' ')}: ${quick.stderr}`);
    }
    // The code cache grew by each command and the way it ended (src/cli/start.cts): a failed first
    // run compiles less of the transaction than an applied one.
    const cached = JSON.parse(readFileSync(join(copy, 'dist/cli/quick-dnf.cjs.v8-cache.json'), 'utf8')) as string[];
    for (const ran of [
      'install done',
      'install failed',
      'remove done',
      'upgrade done',
      'autoremove nothing-to-do',
      'list done',
    ])
      assert.ok(cached.includes(`redwrap-dnf ${ran}`), `${ran} in ${cached.join(', ')}`);
  });

  it('declines the rest before printing anything, and the full bundle gives what it gives', async () => {
    for (const [args, env] of declined()) {
      assert.match(runCopy('redwrap-dnf', args, env).stderr, missing, args.join(' '));
      const [real, full] = await bothWays(() => runBin('redwrap-dnf', args, { env }), args, env);
      assert.deepEqual(real, full, args.join(' '));
    }
    // Neither a transaction nor a query, or one that would read the standard input for its packages.
    const nowhere = join(f.dir, 'missing');
    assert.match(runCopy('redwrap-dnf', ['--redpath', nowhere, 'history']).stderr, missing);
    assert.match(runCopy('redwrap-dnf', ['--redpath', nowhere, '-y', 'upgrade']).stderr, missing);
    // redpak's spelling has a grammar of its own (src/cli/redpak-spellings.ts).
    assert.match(runCopy('redmicrodnf', ['--redpath', nowhere, '-y', 'install', 'x']).stderr, missing);
    assert.match(
      runCopy('redwrap-dnf', ['--redpath', nowhere, '-y', 'install', 'x'], { OCLIF_X: '1' }).stderr,
      missing,
    );
    // Without the manifest to read the options from (oclif reads the commands themselves).
    const manifest = join(copy, 'dist/oclif/redwrap-dnf/oclif.manifest.json');
    renameSync(manifest, `${manifest}.away`);
    try {
      assert.match(runCopy('redwrap-dnf', ['--redpath', nowhere, '-y', 'install', 'x']).stderr, missing);
    } finally {
      renameSync(`${manifest}.away`, manifest);
    }
  });

  it('takes each transaction and query word and alias', () => {
    const nowhere = join(f.dir, 'missing');
    for (const args of [
      ...['install', 'remove', 'erase', 'upgrade', 'update', 'reinstall', 'downgrade'].map((word) => ['-y', word, 'x']),
      ['-y', 'autoremove'],
      ...['list', 'info', 'search', 'provides', 'whatprovides', 'repoquery', 'check-update'].map((word) => [word, 'x']),
    ]) {
      const r = runCopy('redwrap-dnf', ['--redpath', nowhere, ...args]);
      assert.doesNotMatch(r.stderr, missing, args.join(' '));
      assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it("finds the command word in the manifest's declarations as in the commands themselves", async () => {
    for (const bin of ['redwrap-dnf', 'redmanager']) {
      const bundle = join(PACKAGE_ROOT, `dist/cli/${bin}.cjs`);
      const { COMMANDS } = (await import(bundle)) as { COMMANDS: Parameters<typeof commandWords>[0] };
      assert.deepEqual(commandWords(manifestCommands(bin) ?? {}), commandWords(COMMANDS), bin);
    }
  });
});
