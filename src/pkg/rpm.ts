/**
 * The one module that knows rpm's command line. Every node has its own rpm database at
 * NODE/var/lib/rpm (sqlite backend). We always pass `--dbpath /var/lib/rpm`: Debian's rpm
 * defaults to ~/.rpmdb, and libsolv's add_rpmdb only looks in /var/lib/rpm.
 *
 * Installs use `--nodeps`: rpm alone only sees the node's own database, so it would reject
 * requirements that ancestors satisfy. The family-aware checks happen before, in the solver.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { RPMDB_DIR } from '../node/layout.js';
import { run } from './exec.js';
import { rpmSupportsForceDebian } from './rpm-probe.js';

export const RPM_DBPATH = `/${RPMDB_DIR}`;
/** Name of the virtual package through which a system node records what its host provides. */
export const HOST_PROVIDES_PACKAGE = 'redpak-host-provides';

export interface Dependency {
  name: string;
  /** Comparison as rpm prints it: '', '=', '<', '>', '<=', '>='. */
  flags: string;
  version: string;
}

export interface Requirement extends Dependency {
  /** From REQUIREFLAGS:deptype, e.g. 'manual', 'auto', 'rpmlib', 'interp,pre'. */
  deptype: string;
}

export interface PackageFile {
  path: string;
  /** Octal mode string as rpm prints it, e.g. '100755'. */
  mode: string;
  digest: string;
}

export interface InstalledPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  /** name-[epoch:]version-release.arch, the way rpm and libsolv print it. */
  nevra: string;
  installTime: number;
  headerSha256: string;
  provides: Dependency[];
  requires: Requirement[];
  conflicts: Dependency[];
  obsoletes: Dependency[];
  files: PackageFile[];
  /** The package's License tag, as written (absent when rpm has none, or in older dumps). */
  license?: string;
  /** The source rpm it was built from, e.g. 'redhello-1.0-1.src.rpm'. */
  sourceRpm?: string;
  /** The header signature, as rpm's `pgpsig` format shows it ('RSA/SHA256, <date>, Key ID …'). */
  signature?: string;
  /** The OpenPGP key id (16 hex digits) of that signature. */
  signatureKeyId?: string;
  /** Algorithm of the file digests (rpm's FILEDIGESTALGO: 1 md5, 2 sha1, 8 sha256, 9 sha384, 10 sha512, 11 sha224). */
  fileDigestAlgo?: number;
}

/** The header signature, the RSA/EdDSA header one first, else the legacy header+payload one. */
const SIGNATURE_FORMAT =
  '%|RSAHEADER?{%{RSAHEADER:pgpsig}}:{%|DSAHEADER?{%{DSAHEADER:pgpsig}}:{%|SIGPGP?{%{SIGPGP:pgpsig}}:{(none)}|}|}|';

/**
 * One record per package: `@PKG`, then P/R/C/O/F records, tab separated (docs/host-tools.md, "rpm").
 * Every string rpm prints is a quoted word (`readQuotedRecords`): a name in a
 * package can hold a tab or a newline. The `@PKG` fields after the header digest (license, source
 * rpm, signature, digest algorithm) came later: the parser takes them when present.
 */
export const QUERY_FORMAT =
  '@PKG\\t%{NAME:shescape}\\t%{EPOCHNUM}\\t%{VERSION:shescape}\\t%{RELEASE:shescape}\\t%{ARCH:shescape}\\t%{INSTALLTIME}' +
  `\\t%{SHA256HEADER:shescape}\\t%{LICENSE:shescape}\\t%{SOURCERPM:shescape}\\t${SIGNATURE_FORMAT}\\t%{FILEDIGESTALGO}\\n` +
  '[P\\t%{PROVIDENAME:shescape}\\t%{PROVIDEFLAGS:depflags}\\t%{PROVIDEVERSION:shescape}\\n]' +
  '[R\\t%{REQUIRENAME:shescape}\\t%{REQUIREFLAGS:depflags}\\t%{REQUIREVERSION:shescape}\\t%{REQUIREFLAGS:deptype}\\n]' +
  '[C\\t%{CONFLICTNAME:shescape}\\t%{CONFLICTFLAGS:depflags}\\t%{CONFLICTVERSION:shescape}\\n]' +
  '[O\\t%{OBSOLETENAME:shescape}\\t%{OBSOLETEFLAGS:depflags}\\t%{OBSOLETEVERSION:shescape}\\n]' +
  '[F\\t%{FILENAMES:shescape}\\t%{FILEMODES:octal}\\t%{FILEDIGESTS:shescape}\\n]';

/**
 * rpm's query formats cannot print a NUL (rpm 4.18 reads `\0` as `0`), and rpm writes a name as
 * the package holds it: a file name with a newline would read as two paths. rpmbuild refuses such
 * names, but a crafted package, or a node's database written by whoever was admin in it, can
 * carry them. So every string goes through rpm's `:shescape`, a shell single-quoted word (`'` is
 * written `'\''`), and `readQuotedRecords` splits fields at tabs and records at newlines outside
 * quotes only. Numbers and rpm's own words (depflags, deptype, octal modes) stay bare.
 */
export interface QuotedRecords {
  records: string[][];
  /** Why the text could not be read past `records` (they are the complete records before it). */
  error?: string;
}

/** Reads rpm output whose strings are `:shescape` words. Pure. */
export function readQuotedRecords(text: string): QuotedRecords {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { records, error: `a quoted name does not end: ${JSON.stringify(text.slice(i, i + 80))}` };
      const word = text.slice(i + 1, end);
      // Node decodes rpm's output as UTF-8: a name with other bytes would read as another name.
      if (word.includes('\uFFFD'))
        return { records, error: `the name ${JSON.stringify(word)} is not valid UTF-8 (or holds U+FFFD)` };
      field += word;
      i = end + 1;
    } else if (c === '\\' && text[i + 1] === "'") {
      field += "'";
      i += 2;
    } else if (c === '\t') {
      fields.push(field);
      field = '';
      i++;
    } else if (c === '\n') {
      fields.push(field);
      records.push(fields);
      fields = [];
      field = '';
      i++;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || fields.length > 0) return { records, error: 'the output ends inside a record' };
  return { records };
}

/** `--root NODE --dbpath /var/lib/rpm`: the arguments that point rpm at a node's own database. */
export function nodeDbArgs(nodeRoot: string): string[] {
  return ['--root', nodeRoot, '--dbpath', RPM_DBPATH];
}

export function rpmDbDir(nodeRoot: string): string {
  return join(nodeRoot, RPM_DBPATH);
}

/** Whether the node has an rpm database (sqlite, or the older bdb/ndb files). */
export function hasRpmDb(nodeRoot: string): boolean {
  const dir = rpmDbDir(nodeRoot);
  return ['rpmdb.sqlite', 'Packages', 'Packages.db'].some((f) => existsSync(join(dir, f)));
}

async function rpmModeArgs(): Promise<string[]> {
  return (await rpmSupportsForceDebian()) ? ['--force-debian'] : [];
}

/** Create the node's empty database (idempotent). */
export async function initDb(nodeRoot: string): Promise<void> {
  if (hasRpmDb(nodeRoot)) return;
  await mkdir(rpmDbDir(nodeRoot), { recursive: true });
  await run('rpm', [...nodeDbArgs(nodeRoot), '--initdb'], { purpose: `create the rpm database of node ${nodeRoot}` });
}

/**
 * Every package in the node's database as it is on disk (gpg-pubkey entries excluded unless asked
 * for). Commands read a node through pkg/installed.ts, which first recovers an interrupted
 * transaction.
 */
export async function readPackageDb(
  nodeRoot: string,
  options: { includeKeys?: boolean } = {},
): Promise<InstalledPackage[]> {
  if (!hasRpmDb(nodeRoot)) return [];
  const { stdout } = await run(
    'rpm',
    [...(await rpmModeArgs()), ...nodeDbArgs(nodeRoot), '-qa', '--qf', QUERY_FORMAT],
    {
      purpose: `list the packages of node ${nodeRoot}`,
    },
  );
  const packages = parseQueryDump(stdout, nodeRoot);
  return options.includeKeys ? packages : packages.filter((p) => p.name !== 'gpg-pubkey');
}

export function formatNevra(p: {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}): string {
  return `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;
}

/**
 * Parse the output of `rpm -qa --qf QUERY_FORMAT` (`node`: whose database it is, for errors).
 * Pure. Output that cannot be read is an error naming the package it stopped in.
 */
export function parseQueryDump(text: string, node?: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  let current: InstalledPackage | undefined;
  const unreadable = (why: string) =>
    new RedpakError(
      'tool-failed',
      `rpm's listing of ${node === undefined ? 'a database' : `node ${node}`} cannot be read${current ? ` at package ${current.nevra}` : ''}: ${why}`,
      {
        hint:
          current && node !== undefined
            ? `erase that package from the node: rpm --root ${node} --dbpath ${RPM_DBPATH} -e ${current.nevra}`
            : 'erase that package from the node with rpm',
      },
    );
  const { records, error } = readQuotedRecords(text);
  records.forEach((fields, index) => {
    const kind = fields[0];
    if (kind === '@PKG') {
      const [
        ,
        name = '',
        epoch = '0',
        version = '',
        release = '',
        arch = '',
        installTime = '0',
        headerSha256 = '',
        license,
        sourceRpm,
        signature,
        digestAlgo,
      ] = fields;
      const base = { name, epoch: Number(epoch) || 0, version, release, arch };
      current = {
        ...base,
        nevra: formatNevra(base),
        installTime: Number(installTime) || 0,
        headerSha256,
        provides: [],
        requires: [],
        conflicts: [],
        obsoletes: [],
        files: [],
      };
      const given = (v: string | undefined) => (v !== undefined && v !== '' && v !== '(none)' ? v : undefined);
      if (given(license)) current.license = license;
      if (given(sourceRpm)) current.sourceRpm = sourceRpm;
      if (given(signature)) {
        current.signature = signature;
        const keyId = /Key ID ([0-9a-fA-F]+)/.exec(signature)?.[1];
        if (keyId) current.signatureKeyId = keyId.toLowerCase();
      }
      if (given(digestAlgo) && Number.isInteger(Number(digestAlgo))) current.fileDigestAlgo = Number(digestAlgo);
      packages.push(current);
      return;
    }
    const unexpected = () => unreadable(`unexpected record ${index + 1}: ${JSON.stringify(fields.join('\t'))}`);
    if (!current) throw unexpected();
    const dep = (): Dependency => ({
      name: fields[1] ?? '',
      flags: (fields[2] ?? '').trim(),
      version: fields[3] ?? '',
    });
    switch (kind) {
      case 'P':
        current.provides.push(dep());
        break;
      case 'R':
        current.requires.push({ ...dep(), deptype: fields[4] ?? '' });
        break;
      case 'C':
        current.conflicts.push(dep());
        break;
      case 'O':
        current.obsoletes.push(dep());
        break;
      case 'F':
        current.files.push({ path: fields[1] ?? '', mode: fields[2] ?? '', digest: fields[3] ?? '' });
        break;
      default:
        throw unexpected();
    }
  });
  if (error) throw unreadable(error);
  return packages;
}

export interface RpmTransactionOptions {
  /** Do not run %pre/%post/… scriptlets (--noscripts). */
  noscripts?: boolean;
  /** Only update the database, touch no files (--justdb). */
  justdb?: boolean;
  /** Check only, change nothing (--test). */
  test?: boolean;
}

export interface InstallOptions extends RpmTransactionOptions {
  /** Allow installing an older version over a newer one (downgrade). */
  oldpackage?: boolean;
  /** Allow installing the very same NEVRA again (reinstall). */
  replacepkgs?: boolean;
}

function transactionFlags(options: RpmTransactionOptions): string[] {
  return [
    ...(options.noscripts ? ['--noscripts'] : []),
    ...(options.justdb ? ['--justdb'] : []),
    ...(options.test ? ['--test'] : []),
  ];
}

/**
 * Arguments for `rpm` that install/upgrade the given files (-U installs what is missing and
 * upgrades what is older, honouring Obsoletes within the node's own database). Exposed so a
 * sandboxed runner can execute the same command inside the family view (docs/host-tools.md, "Overlay and staging"):
 * pass root '/' there.
 */
export async function installArgs(
  nodeRoot: string,
  rpmPaths: readonly string[],
  options: InstallOptions = {},
): Promise<string[]> {
  return [
    ...(await rpmModeArgs()),
    ...nodeDbArgs(nodeRoot),
    '-U',
    '--nodeps',
    ...transactionFlags(options),
    ...(options.oldpackage ? ['--oldpackage'] : []),
    ...(options.replacepkgs ? ['--replacepkgs'] : []),
    ...rpmPaths,
  ];
}

export interface StagedRpmOptions {
  noscripts?: boolean;
  /** Some step is a downgrade. */
  oldpackage?: boolean;
  /** Some step is a reinstall. */
  replacepkgs?: boolean;
}

/**
 * The rpm commands of a staged transaction (pkg/view.ts runs them inside the family view, where
 * the node is `/`): one verbose `-U` for every file that comes in (creating the node's database if
 * it has none), then one `-e` for the erasures (after a database of its own, `--initdb`, when there
 * is none and nothing comes in). Arguments after `rpm --dbpath`, see `viewRpmArgv`.
 */
export function stagedTransactionArgs(
  nodeRoot: string,
  incoming: readonly string[],
  erased: readonly string[],
  options: StagedRpmOptions,
): string[][] {
  const flags = transactionFlags({ noscripts: options.noscripts });
  const commands: string[][] = [];
  // rpm -U creates a missing database itself: a run of its own only when nothing comes in.
  if (!existsSync(rpmDbDir(nodeRoot)) && incoming.length === 0) commands.push(['--initdb']);
  if (incoming.length > 0) {
    commands.push([
      '-U',
      '-v',
      '--nodeps',
      ...flags,
      ...(options.oldpackage ? ['--oldpackage'] : []),
      ...(options.replacepkgs ? ['--replacepkgs'] : []),
      ...incoming,
    ]);
  }
  if (erased.length > 0) commands.push(['-e', '-v', '--nodeps', ...flags, ...erased]);
  return commands;
}

/** The whole rpm command line in the family view, for arguments from `stagedTransactionArgs`. */
export function viewRpmArgv(args: readonly string[], forceDebian: boolean): string[] {
  // Only rpm's own modes take --force-debian: --initdb execs rpmdb, which rejects it.
  const mode = ['-U', '-i', '-e'].includes(args[0] ?? '');
  return ['rpm', ...(forceDebian && mode ? ['--force-debian'] : []), '--dbpath', RPM_DBPATH, ...args];
}

export interface RpmRunReport {
  /** rpm's stderr: scriptlet failures are only warnings there (rpm still exits 0). */
  warnings: string[];
}

function warningsOf(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Install or upgrade .rpm files into the node's database and tree. The caller has resolved deps. */
export async function installPackages(
  nodeRoot: string,
  rpmPaths: readonly string[],
  options: InstallOptions = {},
): Promise<RpmRunReport> {
  if (rpmPaths.length === 0) return { warnings: [] };
  await initDb(nodeRoot);
  const { stderr } = await run('rpm', await installArgs(nodeRoot, rpmPaths, options), {
    purpose: `install ${rpmPaths.length} package(s) into node ${nodeRoot}`,
  });
  return { warnings: warningsOf(stderr) };
}

/** Erase packages (by name or NEVRA) from the node. */
export async function erasePackages(
  nodeRoot: string,
  packages: readonly string[],
  options: RpmTransactionOptions = {},
): Promise<RpmRunReport> {
  if (packages.length === 0) return { warnings: [] };
  const { stderr } = await run(
    'rpm',
    [...(await rpmModeArgs()), ...nodeDbArgs(nodeRoot), '-e', '--nodeps', ...transactionFlags(options), ...packages],
    {
      purpose: `erase ${packages.join(', ')} from node ${nodeRoot}`,
    },
  );
  return { warnings: warningsOf(stderr) };
}

/** Import an ASCII-armoured OpenPGP key into the node's database (trusted for signature checks). */
export async function importKey(nodeRoot: string, keyPath: string): Promise<void> {
  await initDb(nodeRoot);
  await run('rpm', [...nodeDbArgs(nodeRoot), '--import', keyPath], {
    purpose: `import key ${keyPath} into node ${nodeRoot}`,
  });
}

export interface SignatureCheck {
  ok: boolean;
  /** rpm -K's verdict line, e.g. "pkg.rpm: digests signatures OK". */
  detail: string;
}

/**
 * Check digests and signature of an .rpm against the keys imported in the node's database.
 * An unsigned package or one signed by an unknown key is not ok.
 */
export async function checkSignature(nodeRoot: string, rpmPath: string): Promise<SignatureCheck> {
  const { status, stdout, stderr } = await run('rpm', [...nodeDbArgs(nodeRoot), '-K', rpmPath], {
    okStatuses: [0, 1],
    purpose: `verify ${rpmPath}`,
  });
  const detail = (stdout.trim() || stderr.trim()).split('\n').pop() ?? '';
  // rpm -K exits 0 for an unsigned package with good digests; we require a verified signature.
  return { ok: status === 0 && /\bsignatures OK\b/.test(detail), detail };
}

const COMMON_INTERPRETERS = [
  '/bin/sh',
  '/bin/bash',
  '/usr/bin/sh',
  '/usr/bin/bash',
  '/usr/bin/env',
  '/bin/busybox',
  '/usr/bin/perl',
  '/usr/bin/python3',
];

/**
 * What a host without an rpm database provides, the way rpm's dependency generator would have
 * declared it: common interpreter paths that exist, and the sonames (with symbol versions) of
 * every library in the ld.so cache, produced by rpm's own elfdeps. `rtld(GNU_HASH)` is normally
 * a manual Provides of glibc, added when the dynamic loader is there.
 */
export async function detectHostProvides(): Promise<string[]> {
  const provides = new Set(COMMON_INTERPRETERS.filter((p) => existsSync(p)));
  const cache = await run('ldconfig', ['-p'], { purpose: 'list the host libraries' });
  const libraries = cache.stdout
    .split('\n')
    .map((line) => line.split(' => ')[1]?.trim())
    .filter((p): p is string => !!p && existsSync(p));
  if (libraries.length > 0) {
    const elf = await run('/usr/lib/rpm/elfdeps', ['--provides'], {
      input: `${libraries.join('\n')}\n`,
      purpose: 'read the sonames of the host libraries',
    });
    for (const line of elf.stdout.split('\n')) if (line.trim()) provides.add(line.trim());
    if (libraries.some((p) => /\/ld-linux[^/]*\.so/.test(p)) || existsSync('/lib64/ld-linux-x86-64.so.2'))
      provides.add('rtld(GNU_HASH)');
  }
  return [...provides].sort();
}

/** Checks one Provides entry: `name` or `name OP version`, as a spec's Provides: line takes it. */
function validateProvide(entry: string): string {
  const trimmed = entry.trim();
  if (!/^[^\s,]+(\s+(=|<|>|<=|>=)\s+[^\s,]+)?$/.test(trimmed)) {
    throw new RedpakError(
      'package',
      `invalid host capability ${JSON.stringify(entry)}: expected "name" or "name OP version" without commas`,
    );
  }
  return trimmed.replace(/%/g, '%%');
}

/**
 * Record host capabilities in a system node's own database, so packages whose requirements the
 * host fulfils (/bin/sh, libc sonames…) resolve. We build a file-less virtual package
 * `redpak-host-provides` carrying one Provides per capability and install it --justdb. Calling
 * again replaces the previous registration.
 */
export async function registerHostProvides(nodeRoot: string, provides: readonly string[]): Promise<{ nevra: string }> {
  const lines = [...new Set(provides.map(validateProvide))];
  const work = await mkdtemp(join(tmpdir(), 'redpak-hostprov-'));
  try {
    // Seconds since epoch as release: a later registration is a plain upgrade of the earlier one.
    const release = String(Math.floor(Date.now() / 1000));
    const spec = [
      `Name: ${HOST_PROVIDES_PACKAGE}`,
      'Version: 1',
      `Release: ${release}`,
      'Summary: Capabilities provided by the host outside any rpm database',
      'License: Apache-2.0',
      'BuildArch: noarch',
      'AutoReqProv: no',
      ...lines.map((p) => `Provides: ${p}`),
      '%description',
      'Generated by redpak registerHostProvides.',
      '%files',
      '',
    ].join('\n');
    const specPath = join(work, `${HOST_PROVIDES_PACKAGE}.spec`);
    await writeFile(specPath, spec);
    await run(
      'rpmbuild',
      ['--define', `_topdir ${work}`, '--define', `_dbpath ${join(work, 'db')}`, '--nodeps', '-bb', specPath],
      {
        purpose: 'build the host capabilities package',
      },
    );
    const rpmDir = join(work, 'RPMS', 'noarch');
    const built = (await readdir(rpmDir)).map((f) => join(rpmDir, f));
    await installPackages(nodeRoot, built, { justdb: true, noscripts: true, oldpackage: true, replacepkgs: true });
    return { nevra: `${HOST_PROVIDES_PACKAGE}-1-${release}.noarch` };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface InstalledFileMeta {
  path: string;
  /** Octal mode string as rpm prints it, e.g. '100755'. */
  mode: string;
  /** Seconds since the epoch, as the package set it. */
  mtime: number;
}

/** Mode and mtime of every file the node's packages installed, as rpm recorded them. */
export async function queryFileMetadata(nodeRoot: string): Promise<InstalledFileMeta[]> {
  if (!hasRpmDb(nodeRoot)) return [];
  const { stdout } = await run(
    'rpm',
    [
      ...(await rpmModeArgs()),
      ...nodeDbArgs(nodeRoot),
      '-qa',
      '--qf',
      '@PKG\\t%{NEVRA:shescape}\\n[F\\t%{FILENAMES:shescape}\\t%{FILEMODES:octal}\\t%{FILEMTIMES}\\n]',
    ],
    {
      purpose: `list the files of node ${nodeRoot}`,
    },
  );
  const files: InstalledFileMeta[] = [];
  let nevra: string | undefined;
  const unreadable = (why: string) =>
    new RedpakError(
      'tool-failed',
      `rpm's file list of node ${nodeRoot} cannot be read${nevra ? ` at package ${nevra}` : ''}: ${why}`,
    );
  const { records, error } = readQuotedRecords(stdout);
  for (const [kind, name = '', mode = '', mtime = '0'] of records) {
    if (kind === '@PKG') nevra = name;
    else if (kind === 'F' && nevra !== undefined) files.push({ path: name, mode, mtime: Number(mtime) || 0 });
    else throw unreadable(`unexpected record ${JSON.stringify(kind)}`);
  }
  if (error) throw unreadable(error);
  return files;
}

/**
 * Each package file's payload paths, as rpm reads them from the package itself (in the order
 * given). A name rpm prints that cannot be read is an error naming the package file.
 */
export async function packageFiles(rpmPaths: readonly string[]): Promise<string[][]> {
  if (rpmPaths.length === 0) return [];
  const { stdout } = await run(
    'rpm',
    ['-qp', '--nosignature', '--nodigest', '--qf', '@PKG\\n[F\\t%{FILENAMES:shescape}\\n]', ...rpmPaths],
    { purpose: 'list package files' },
  );
  const lists: string[][] = [];
  const unreadable = (why: string) =>
    new RedpakError(
      'tool-failed',
      `rpm's file list of ${rpmPaths[Math.max(lists.length - 1, 0)]} cannot be read: ${why}`,
    );
  const { records, error } = readQuotedRecords(stdout);
  for (const [kind, path = ''] of records) {
    const list = lists[lists.length - 1];
    if (kind === '@PKG') lists.push([]);
    else if (kind === 'F' && list) list.push(path);
    else throw unreadable(`unexpected record ${JSON.stringify(kind)}`);
  }
  if (error) throw unreadable(error);
  if (lists.length !== rpmPaths.length)
    throw unreadable(`rpm listed ${lists.length} package(s) for ${rpmPaths.length} file(s)`);
  return lists;
}

/** One line of `rpm -V`: a file of an installed package that differs from what the database recorded. */
export interface VerifyProblem {
  path: string;
  /** rpm's nine test letters (S size, M mode, 5 digest, D device, L link, U user, G group, T mtime, P capabilities), or 'missing'. */
  flags: string;
  /** Which tests failed, in words: size, mode, digest, device, link, user, group, mtime, capabilities, missing. */
  failed: string[];
  /** The file's attribute in the package: c config, d doc, g ghost, l license, r readme; '' for none. */
  attr: string;
}

const VERIFY_TESTS: [string, string][] = [
  ['S', 'size'],
  ['M', 'mode'],
  ['5', 'digest'],
  ['D', 'device'],
  ['L', 'link'],
  ['U', 'user'],
  ['G', 'group'],
  ['T', 'mtime'],
  ['P', 'capabilities'],
];

const VERIFY_LINE = /^(missing|[.?SM5DLUGTP]{9})\s+(?:([cdglr])\s+)?(\/.*)$/;

/**
 * Parses `rpm -Va` output. Pure. Lines that are not file results (rpm's messages) are returned apart.
 * rpm prints a file name as it is, so a name with a newline spans lines: `namesWithNewline` (the
 * node's file names that hold one, from a quoted query) puts such a result back together, so that
 * its lines are neither read as other files nor as messages.
 */
export function parseVerifyOutput(
  text: string,
  namesWithNewline: readonly string[] = [],
): { problems: VerifyProblem[]; other: string[] } {
  const problems: VerifyProblem[] = [];
  const other: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const match = VERIFY_LINE.exec(line);
    if (!match) {
      other.push(line.trim());
      continue;
    }
    const flags = match[1];
    let path = match[3];
    // The longest name of the node that these lines and the next ones spell. A line that reads as
    // a result stays one: a crafted name must not hide another file's result.
    for (let name = path, j = i + 1; j < lines.length && !VERIFY_LINE.test(lines[j] ?? ''); j++) {
      name = `${name}\n${lines[j]}`;
      if (!namesWithNewline.some((n) => n === name || n.startsWith(`${name}\n`))) break;
      if (namesWithNewline.includes(name)) {
        path = name;
        i = j;
      }
    }
    const failed =
      flags === 'missing'
        ? ['missing']
        : VERIFY_TESTS.filter(([letter], k) => flags[k] === letter).map(([, word]) => word);
    if (flags !== 'missing' && flags.includes('?')) failed.push('unreadable');
    problems.push({ path, flags, failed, attr: match[2] ?? '' });
  }
  return { problems, other };
}

/**
 * `rpm -Va` on the node's own database and files: every file its packages installed that differs
 * from what rpm recorded (dependencies and verify scriptlets are not checked: the solver checks
 * dependencies across the family, and scriptlets would run code from the node).
 */
export async function verifyNode(nodeRoot: string): Promise<VerifyProblem[]> {
  if (!hasRpmDb(nodeRoot)) return [];
  const { status, stdout, stderr } = await run(
    'rpm',
    [...(await rpmModeArgs()), ...nodeDbArgs(nodeRoot), '-Va', '--nodeps', '--noscripts'],
    {
      okStatuses: [0, 1],
      purpose: `verify the files of node ${nodeRoot}`,
    },
  );
  const namesWithNewline = (await queryFileMetadata(nodeRoot)).map((f) => f.path).filter((p) => p.includes('\n'));
  const { problems, other } = parseVerifyOutput(stdout, namesWithNewline);
  const errors = [...other, ...warningsOf(stderr)].filter((l) => /^error:/.test(l));
  if (status !== 0 && problems.length === 0 && errors.length > 0) {
    throw new RedpakError('tool-failed', `rpm could not verify node ${nodeRoot}: ${errors.join('; ')}`);
  }
  return problems;
}
