/**
 * The two staged views of an ordinary user's transaction (docs/transactions.md, "Copy-up
 * staging"): `redwrap-dnf install redhello` and `remove redhello` in an app node whose platform
 * holds libredfoo (the fixture packages, the size of the README's demo), with overlays in a user
 * namespace and with copy-up staging (REDPAK_STAGING=copy), interleaved.
 *
 *   npm run build && node dist/bench/staging.js [--rounds N]
 *
 * Needs root, to make the throwaway user it runs as (removed at the end, with its home).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NORMAL_CONFIG } from '../src/node/layout.js';
import { buildFixtureRepo } from '../src/pkg/fixture-repo.js';
import { acceptUnsignedPackages } from '../src/pkg/node-setup.js';
import { compare, type Contender, numberFlag, runWhenMain } from './lib.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const bin = (name: string) => join(ROOT, 'bin', name);

interface BenchUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function check(what: string, r: { status: number | null; stderr: string | Buffer }): void {
  if (r.status !== 0) throw new Error(`${what} failed: ${String(r.stderr)}`);
}

/** argv running `argv` as the user with a login's environment (and `env`). */
function asUser(user: BenchUser, argv: string[], env: Record<string, string> = {}): string[] {
  const vars = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: user.home,
    USER: user.name,
    XDG_RUNTIME_DIR: `/run/user/${user.uid}`,
    ...env,
  };
  return [
    'setpriv',
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    '--init-groups',
    '--',
    'env',
    '-i',
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
}

function runAs(user: BenchUser, argv: string[], env: Record<string, string> = {}): void {
  const [cmd = '', ...args] = asUser(user, argv, env);
  check(argv.join(' '), spawnSync(cmd, args, { encoding: 'utf8', cwd: user.home }));
}

export async function stagingBench(rounds: number) {
  const name = `rpkbench${process.pid}`;
  check('useradd', spawnSync('useradd', ['--create-home', '--shell', '/bin/sh', '--user-group', name]));
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const user: BenchUser = { name, uid: id('-u'), gid: id('-g'), home: `/home/${name}` };
  const runtime = `/run/user/${user.uid}`;
  const repoDir = mkdtempSync(join(tmpdir(), 'redpak-bench-staging-'));
  try {
    mkdirSync(runtime, { recursive: true, mode: 0o700 });
    chownSync(runtime, user.uid, user.gid);
    chmodSync(repoDir, 0o755);
    cpSync((await buildFixtureRepo()).repoDir, join(repoDir, 'repo'), { recursive: true });
    spawnSync('chmod', ['-R', 'a+rX', repoDir]);
    const top = join(user.home, 'r');
    const plat = join(top, 'plat');
    const app = join(plat, 'app');
    for (const node of [plat, app]) runAs(user, [bin('redmanager'), 'create-node', '--redpath', node]);
    const repos = join(top, 'etc/yum.repos.d');
    mkdirSync(repos, { recursive: true });
    writeFileSync(
      join(repos, 'fixtures.repo'),
      `[fixtures]\nname=fixtures\nbaseurl=file://${repoDir}/repo\ngpgcheck=0\n`,
    );
    for (const p of [repos, join(repos, 'fixtures.repo')]) chownSync(p, user.uid, user.gid);
    acceptUnsignedPackages(join(top, NORMAL_CONFIG)); // the fixture packages are unsigned
    runAs(user, [bin('redwrap-dnf'), '--redpath', plat, '-y', 'install', 'libredfoo-1.0', 'redfoo-conf']);
    const dnf = (verb: string) => [bin('redwrap-dnf'), '--redpath', app, '-y', verb, 'redhello'];
    const modes: [string, Record<string, string>][] = [
      ['overlay', {}],
      ['copy-up', { REDPAK_STAGING: 'copy' }],
    ];
    const installs: Contender[] = modes.map(([mode, env]) => ({
      name: `${mode}: install redhello`,
      argv: asUser(user, dnf('install'), env),
      after: () => runAs(user, dnf('remove')),
    }));
    const removes: Contender[] = modes.map(([mode, env]) => ({
      name: `${mode}: remove redhello`,
      argv: asUser(user, dnf('remove'), env),
      before: () => {
        runAs(user, dnf('install'));
        return undefined;
      },
    }));
    return [...compare('staging', installs, rounds), ...compare('staging', removes, rounds)];
  } finally {
    spawnSync('pkill', ['-KILL', '-u', String(user.uid)]);
    spawnSync('userdel', ['--remove', name]);
    rmSync(runtime, { recursive: true, force: true });
    rmSync(repoDir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, () => stagingBench(numberFlag('--rounds', 5)));
