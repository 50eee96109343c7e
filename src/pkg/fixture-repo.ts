/**
 * Builds the fixture RPMs (fixtures/specs/*.spec, sources in fixtures/src) with rpmbuild, indexes
 * them with createrepo_c, and signs one package with a throwaway key. The result is cached in a
 * directory named after a hash of the specs and sources, so test files and the README demo share
 * one build. Concurrent callers are safe: each builds in a private directory and renames it into
 * place; whoever loses the race uses the winner's copy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { run } from './exec.js';
import { packagePath } from '../package-root.js';

/** Bump when the build steps change in a way the spec/source hash cannot see. */
const BUILDER_VERSION = '1';
const SIGNER_NAME = 'redpak fixture signer';

export interface FixtureSigning {
  /** ASCII-armoured public key of the throwaway signing key. */
  publicKey: string;
  /** rpm-md repository holding only the signed redsigned package. */
  signedRepoDir: string;
  signedRpm: string;
  /** Copy of the signed package with one payload byte flipped: digests and signature fail. */
  tamperedRpm: string;
}

export interface FixtureRepo {
  /** rpm-md repository (createrepo_c) with every fixture package except redsigned. */
  repoDir: string;
  /** Built .rpm files by file name (e.g. "libredfoo-1.0-1.x86_64.rpm"), including redsigned. */
  rpms: Record<string, string>;
  /** Null when gpg or rpmsign could not sign here; `signingUnavailable` says why. */
  signing: FixtureSigning | null;
  signingUnavailable?: string;
  cacheKey: string;
}

export interface BuildFixtureOptions {
  /** Directory under which `<hash>/` is created. Default: $REDPAK_FIXTURE_CACHE or <tmpdir>/redpak-fixture-repo. */
  cacheRoot?: string;
  /** Default: the package's own fixtures/ directory. */
  fixturesDir?: string;
}

/** The package's fixtures/ directory. */
export function defaultFixturesDir(): string {
  return `${packagePath('fixtures')}/`;
}

const SIGNED_PACKAGE = 'redsigned';

export async function buildFixtureRepo(options: BuildFixtureOptions = {}): Promise<FixtureRepo> {
  const fixtures = options.fixturesDir ?? defaultFixturesDir();
  const specsDir = join(fixtures, 'specs');
  const sourcesDir = join(fixtures, 'src');
  const cacheKey = await hashInputs(specsDir, sourcesDir);
  const cacheRoot = options.cacheRoot ?? process.env.REDPAK_FIXTURE_CACHE ?? join(tmpdir(), 'redpak-fixture-repo');
  const finalDir = join(cacheRoot, cacheKey);

  if (!existsSync(join(finalDir, 'result.json'))) {
    await mkdir(cacheRoot, { recursive: true });
    const workDir = join(cacheRoot, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await buildInto(workDir, specsDir, sourcesDir);
      await rename(workDir, finalDir).catch(async (error: NodeJS.ErrnoException) => {
        // Another process finished first: its copy is identical, keep it.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  const stored = JSON.parse(await readFile(join(finalDir, 'result.json'), 'utf8')) as Omit<FixtureRepo, 'cacheKey'>;
  return { ...relocate(stored, finalDir), cacheKey };
}

/** result.json stores paths relative to the cache directory so a moved cache stays valid. */
function relocate(stored: Omit<FixtureRepo, 'cacheKey'>, dir: string): Omit<FixtureRepo, 'cacheKey'> {
  const abs = (p: string) => join(dir, p);
  return {
    repoDir: abs(stored.repoDir),
    rpms: Object.fromEntries(Object.entries(stored.rpms).map(([k, v]) => [k, abs(v)])),
    signing: stored.signing && {
      publicKey: abs(stored.signing.publicKey),
      signedRepoDir: abs(stored.signing.signedRepoDir),
      signedRpm: abs(stored.signing.signedRpm),
      tamperedRpm: abs(stored.signing.tamperedRpm),
    },
    ...(stored.signingUnavailable ? { signingUnavailable: stored.signingUnavailable } : {}),
  };
}

async function hashInputs(...dirs: string[]): Promise<string> {
  const hash = createHash('sha256').update(`builder ${BUILDER_VERSION}\n`);
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new RedpakError('io', `fixture directory ${dir} does not exist`);
    for (const name of (await readdir(dir)).sort()) {
      hash.update(`${basename(dir)}/${name}\n`).update(await readFile(join(dir, name)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

async function buildInto(workDir: string, specsDir: string, sourcesDir: string): Promise<void> {
  const topdir = join(workDir, 'rpmbuild');
  await mkdir(topdir, { recursive: true });
  const specs = (await readdir(specsDir)).filter((n) => n.endsWith('.spec')).sort();
  for (const spec of specs) {
    await run(
      'rpmbuild',
      [
        '--define',
        `_topdir ${topdir}`,
        '--define',
        `_sourcedir ${sourcesDir}`,
        // rpmbuild would otherwise create ~/.rpmdb (Debian's default dbpath) on first use.
        '--define',
        `_dbpath ${join(workDir, 'build-rpmdb')}`,
        // BuildRequires would be checked against the (empty) build host rpmdb.
        '--nodeps',
        '-bb',
        join(specsDir, spec),
      ],
      { purpose: `build fixture ${spec}` },
    );
  }

  const rpms: Record<string, string> = {};
  const repoDir = join(workDir, 'repo');
  const signedRepoDir = join(workDir, 'signed-repo');
  await mkdir(join(repoDir, 'packages'), { recursive: true });
  await mkdir(join(signedRepoDir, 'packages'), { recursive: true });
  for (const arch of await readdir(join(topdir, 'RPMS'))) {
    for (const file of await readdir(join(topdir, 'RPMS', arch))) {
      const target = file.startsWith(`${SIGNED_PACKAGE}-`) ? signedRepoDir : repoDir;
      await copyFile(join(topdir, 'RPMS', arch, file), join(target, 'packages', file));
      rpms[file] = join(target === repoDir ? 'repo' : 'signed-repo', 'packages', file);
    }
  }

  const signedFile = Object.keys(rpms).find((f) => f.startsWith(`${SIGNED_PACKAGE}-`));
  if (!signedFile) throw new RedpakError('io', `fixture spec ${SIGNED_PACKAGE}.spec produced no package`);
  let signing: FixtureSigning | null = null;
  let signingUnavailable: string | undefined;
  try {
    signing = await signFixture(workDir, join(workDir, rpms[signedFile]));
  } catch (error) {
    signingUnavailable = error instanceof Error ? error.message : String(error);
  }

  await run('createrepo_c', ['-q', '--no-database', repoDir], { purpose: 'index the fixture repository' });
  await run('createrepo_c', ['-q', '--no-database', signedRepoDir], { purpose: 'index the signed fixture repository' });
  await rm(topdir, { recursive: true, force: true });
  await rm(join(workDir, 'build-rpmdb'), { recursive: true, force: true });

  const rel = (p: string) => p.slice(workDir.length + 1);
  const result: Omit<FixtureRepo, 'cacheKey'> = {
    repoDir: 'repo',
    rpms,
    signing: signing && {
      publicKey: rel(signing.publicKey),
      signedRepoDir: 'signed-repo',
      signedRpm: rel(signing.signedRpm),
      tamperedRpm: rel(signing.tamperedRpm),
    },
    ...(signingUnavailable ? { signingUnavailable } : {}),
  };
  await writeFile(join(workDir, 'result.json'), JSON.stringify(result, null, 2));
}

/** Sign `rpmPath` in place with a fresh key, export the key, and write a tampered copy. */
async function signFixture(workDir: string, rpmPath: string): Promise<FixtureSigning> {
  // A short private GNUPGHOME: gpg-agent's socket path must stay under 108 bytes.
  const gnupgHome = join(workDir, 'gpg');
  await mkdir(gnupgHome, { mode: 0o700 });
  const env = { GNUPGHOME: gnupgHome };
  try {
    await run(
      'gpg',
      [
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--quick-gen-key',
        `${SIGNER_NAME} <fixture@redpak.invalid>`,
        'rsa2048',
        'sign',
        'never',
      ],
      {
        env,
        purpose: 'generate the fixture signing key',
      },
    );
    // Debian's rpm defaults %__gpg to /usr/bin/gpg2, which the gnupg package no longer ships.
    await run(
      'rpmsign',
      [
        '--define',
        '__gpg /usr/bin/gpg',
        '--define',
        `_gpg_name ${SIGNER_NAME}`,
        '--define',
        `_gpg_path ${gnupgHome}`,
        '--addsign',
        rpmPath,
      ],
      {
        env,
        purpose: 'sign the fixture package',
      },
    );
    const publicKey = join(workDir, 'RPM-GPG-KEY-redpak-fixture');
    const exported = await run('gpg', ['--batch', '--armor', '--export', SIGNER_NAME], {
      env,
      purpose: 'export the fixture signing key',
    });
    await writeFile(publicKey, exported.stdout);

    const tamperedDir = join(workDir, 'tampered');
    await mkdir(tamperedDir);
    const tamperedRpm = join(tamperedDir, basename(rpmPath));
    const bytes = await readFile(rpmPath);
    bytes[bytes.length - 20] ^= 0xff; // inside the compressed payload: header still parses
    await writeFile(tamperedRpm, bytes);
    return { publicKey, signedRepoDir: join(workDir, 'signed-repo'), signedRpm: rpmPath, tamperedRpm };
  } finally {
    // gpg started an agent for this home; do not leave it running.
    await run('gpgconf', ['--homedir', gnupgHome, '--kill', 'gpg-agent']).catch(() => undefined);
    await rm(gnupgHome, { recursive: true, force: true });
  }
}
