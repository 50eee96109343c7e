/**
 * Node archives: `redmanager export` writes a node (and with `withDescendants` the nodes below
 * it) into a reproducible tar; `redmanager import` unpacks one as a new node of a family.
 *
 * Archive layout (tar, ustar/pax headers, written with tar-stream):
 *   .redpak-archive.json     first entry: format, version, the nodes, and every entry with its
 *                            type, mode, size and sha256 (files) or target (symlinks)
 *   <entries>                paths relative to the exported node, sorted by byte order
 * Reproducible: same content → byte-identical archive. Entries are sorted, mtime is 0, uid/gid
 * are 0 with empty user/group names, modes are normalised (directories 0755, files 0755 when
 * the owner may execute them else 0644, symlinks 0777).
 *
 * The rpm database (sqlite in WAL mode) is copied while the family lock is held, then the copy's
 * write-ahead log is checkpointed into it, so the archive holds one consistent rpmdb.sqlite
 * (no -wal, -shm or lock files). Caches are left out: the fast-path launch cache (.redpak/),
 * a leftover staging layer, the family lock and the dnf cache (var/cache/dnf).
 *
 * Import checks everything before the node appears: every entry is in the manifest with the
 * same type, mode, size and digest (tampering and truncation are refused), no entry is unsafe
 * (absolute path, `..`, link escaping the node once resolved through the unpacked tree, redpak's
 * own names, too deep, world-writable, device, fifo, hard link), each node's database
 * is readable by rpm, and the packages keep the family rules under the destination's ancestors
 * (no duplicate of an ancestor's package, every requirement satisfied, no conflict). It all
 * happens in a hidden staging directory beside the destination, renamed into place at the end;
 * a failure removes it and leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  chmodSync,
  utimesSync,
  lutimesSync,
  openSync,
  closeSync,
  writeSync,
  mkdtempSync,
  copyFileSync,
  statSync,
  type Stats,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';

type TarHeader = Parameters<ReturnType<typeof tarPack>['entry']>[0];
import { RedpakError } from '../errors.js';
import { formatToday, type HostFacts } from '../config/expand.js';
import { parseNodeConfig, parseNodeStatus } from '../config/parse.js';
import { serializeStatus } from '../config/serialize.js';
import type { NodeStatus } from '../config/types.js';
import { NORMAL_CONFIG, REDPAK_DIR, STAGE_DIR, STATUS_FILE, Sysroot } from '../node/layout.js';
import { assertEnabled, isNodeDir, loadFamily, loadNode } from '../node/load.js';
import type { RedNode } from '../node/types.js';
import { run } from '../pkg/exec.js';
import { acquireFamilyLock, LOCK_FILE, type FamilyLock } from '../pkg/lock.js';
import { recoverInterrupted } from '../pkg/recovery.js';
import { hasRpmDb, HOST_PROVIDES_PACKAGE, queryFileMetadata, RPM_DBPATH } from '../pkg/rpm.js';
import { queryPackages } from '../pkg/installed.js';
import { checkPlacement, solverPython, type PlacementViolation } from '../pkg/solver.js';
import { assertSigningKey, signaturePath, signFile, verifyFile } from './signature.js';

export const MANIFEST_NAME = '.redpak-archive.json';
export const ARCHIVE_FORMAT = 'redpak-node-archive';
export const ARCHIVE_VERSION = 1;
/** Largest manifest import reads (a manifest lists entries, not contents). */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/**
 * Names redpak itself writes in a node (the launch cache, the staging layer, the family lock):
 * an archive never carries them, at any depth (import refuses them, export leaves them out),
 * so an archive cannot plant a launch cache, a stale stage or a lock.
 */
const RESERVED_NAMES = new Set([REDPAK_DIR, STAGE_DIR, LOCK_FILE]);
/** Relative to a node: left out of archives (caches, locks, staging). */
const EXCLUDED = new Set([...RESERVED_NAMES, 'var/cache/dnf']);
/** Deepest entry import takes (components): deeper trees are refused before anything is written. */
export const MAX_ENTRY_DEPTH = 256;
/** Longest entry name (bytes): the staging path plus the name stays below PATH_MAX (4096). */
export const MAX_ENTRY_NAME_BYTES = 3000;
/** Most entries one archive may hold. */
export const MAX_ENTRIES = 1_000_000;
/** Links followed while resolving one symlink target (the kernel's limit, ELOOP). */
const MAX_LINK_HOPS = 40;
/** In var/lib/rpm: what sqlite and rpm keep beside the database, never part of its content. */
const RPMDB_TRANSIENT = /^(rpmdb\.sqlite-(wal|shm|journal)|\.rpm\.lock|\.dbenv\.lock|__db\.\d+|rpmrebuilddb\..*)$/;
const SQLITE_DB = 'rpmdb.sqlite';
/** The rpm database directory relative to a node. */
const RPMDB_REL = RPM_DBPATH.replace(/^\//, '');

export type EntryType = 'directory' | 'file' | 'symlink';

export interface ManifestEntry {
  /** Relative to the archived node, `/`-separated, no leading `./`. */
  path: string;
  type: EntryType;
  /** Normalised mode, octal: '0755', '0644' or '0777'. */
  mode: string;
  /** Files: size in bytes and sha256 of the content. */
  size?: number;
  sha256?: string;
  /** Symlinks: the target as stored. */
  target?: string;
}

export interface ManifestNode {
  /** Relative to the archived node: '' for the node itself. */
  path: string;
  alias: string;
  state: string;
  /** NEVRAs of the node's own packages, sorted. */
  packages: string[];
}

export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  /** The exported node, as it was named where it was exported. */
  node: { path: string; alias: string };
  withDescendants: boolean;
  nodes: ManifestNode[];
  entries: ManifestEntry[];
}

// ---------------------------------------------------------------------------------------------
// Paths and entries

function archiveError(archive: string, message: string, hint?: string): RedpakError {
  return new RedpakError('io', `archive ${archive}: ${message}`, {
    hint: hint ?? 'nothing was imported; export the node again, or check how the archive was copied',
  });
}

/**
 * Checks an entry name: relative, no `.`/`..`/empty segment, no NUL or backslash. Returns the
 * name without a trailing `/` (tar marks directories so), or a reason to refuse it.
 */
export function checkEntryPath(name: string): { path: string } | { unsafe: string } {
  const path = name.endsWith('/') ? name.slice(0, -1) : name;
  if (path === '') return { unsafe: 'empty entry name' };
  if (path.startsWith('/')) return { unsafe: `absolute path ${JSON.stringify(name)}` };
  if (/[\0\\]/.test(path)) return { unsafe: `entry name with a NUL or backslash ${JSON.stringify(name)}` };
  if (Buffer.byteLength(path) > MAX_ENTRY_NAME_BYTES)
    return { unsafe: `entry name longer than ${MAX_ENTRY_NAME_BYTES} bytes (${JSON.stringify(path.slice(0, 80))}…)` };
  const segments = path.split('/');
  if (segments.length > MAX_ENTRY_DEPTH)
    return {
      unsafe: `entry ${JSON.stringify(path.slice(0, 80))}… is ${segments.length} directories deep (at most ${MAX_ENTRY_DEPTH})`,
    };
  if (segments.includes('..')) return { unsafe: `entry ${JSON.stringify(name)} climbs out with ..` };
  if (segments.some((s) => s === '' || s === '.'))
    return { unsafe: `entry name ${JSON.stringify(name)} is not normalised` };
  const reserved = segments.find((s) => RESERVED_NAMES.has(s));
  if (reserved)
    return {
      unsafe: `entry ${JSON.stringify(name)} is or is under ${reserved}, a name redpak writes itself (never archived)`,
    };
  return { path };
}

/**
 * Where a symlink at `path` (relative to `root`) pointing to `target` leads, resolved the way
 * the kernel will: component by component through what is on disk under `root` (lstat/readlink:
 * earlier links are followed, `..` applies to where a link led, not to its name). Returns the
 * reason it leaves `root`, or undefined when it stays inside. Components that do not exist are
 * taken as written (nothing can appear there later: the archive is fully unpacked). Iterative:
 * no recursion however long the chain.
 */
export function linkEscapes(root: string, path: string, target: string): string | undefined {
  const at = path.split('/').slice(0, -1);
  const pending = target.split('/').reverse();
  if (target.startsWith('/')) return `absolute target ${target}`;
  let hops = 0;
  for (let part = pending.pop(); part !== undefined; part = pending.pop()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (at.length === 0) return `${target} climbs above the node`;
      at.pop();
      continue;
    }
    if (RESERVED_NAMES.has(part)) return `${target} leads into ${part}, a name redpak writes itself`;
    const here = join(root, ...at, part);
    const st = lstatSync(here, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      hops += 1;
      if (hops > MAX_LINK_HOPS) return `${target} goes through more than ${MAX_LINK_HOPS} links (a loop)`;
      const next = readlinkSync(here);
      if (next.startsWith('/'))
        return `${target} goes through ${[...at, part].join('/')} -> ${next}, an absolute target`;
      pending.push(...next.split('/').reverse());
      continue;
    }
    at.push(part);
  }
  return undefined;
}

/** Whether a symlink at `path` (relative to the archive root) pointing to `target` stays inside it. */
export function linkStaysInside(path: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || target.includes('\0')) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  return resolved !== '..' && !resolved.startsWith('../') && !posix.isAbsolute(resolved);
}

function normalisedMode(type: EntryType, st: Stats): number {
  if (type === 'directory') return 0o755;
  if (type === 'symlink') return 0o777;
  return st.mode & 0o100 ? 0o755 : 0o644;
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    createReadStream(file)
      .on('data', (chunk: Buffer | string) => {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += b.length;
        hash.update(b);
      })
      .on('error', (error) => reject(new RedpakError('io', `cannot read ${file}: ${error.message}`, { cause: error })))
      .on('end', () => resolvePromise({ sha256: hash.digest('hex'), size }));
  });
}

// ---------------------------------------------------------------------------------------------
// Export

export interface ExportOptions {
  redpath: string;
  /** Where to write the archive (replaced atomically when it exists). */
  output: string;
  /** Also archive the nodes below the node (any depth). */
  withDescendants?: boolean;
  sysroot?: string;
  cwd?: string;
  /** Seconds to wait for the family lock (default 0). */
  lockWait?: number;
  /** Sign the archive with this key of the caller's gpg keyring: a detached signature OUTPUT.asc. */
  sign?: string;
}

export interface ExportResult {
  /** The exported node (target path) and its alias. */
  node: string;
  alias: string;
  output: string;
  /** sha256 of the archive: give it to `import --sha256` to check the copy end to end. */
  sha256: string;
  size: number;
  nodes: { path: string; alias: string; packages: number }[];
  entries: number;
  /** Special files (sockets, fifos, devices) found in the node and left out. */
  skipped: string[];
  /** With `sign`: the detached signature written. */
  signature?: string;
}

interface SourceEntry extends ManifestEntry {
  /** Where the content comes from (the node, or the database snapshot). */
  source: string;
}

/**
 * Writes the node into a reproducible tar archive. The family lock is held while databases are
 * copied, so no package transaction runs meanwhile.
 */
export async function exportNode(options: ExportOptions): Promise<ExportResult> {
  const sysroot = Sysroot.open(options.sysroot);
  const family = loadFamily(options.redpath, { sysroot, cwd: options.cwd });
  assertEnabled(family);
  const node = family.nodes[0];
  const top = family.nodes[family.nodes.length - 1];
  const output = resolve(options.cwd ?? process.cwd(), options.output);
  const inside = relative(node.hostPath, output);
  if (!inside.startsWith('..') && !inside.startsWith('/')) {
    throw new RedpakError('usage', `the archive ${output} would be inside the node it archives (${node.path})`, {
      hint: 'write it somewhere else',
    });
  }
  if (options.sign) await assertSigningKey(options.sign);
  const lock = await acquireFamilyLock(top.hostPath, {
    command: `redmanager export --redpath ${node.path}`,
    waitSeconds: options.lockWait,
    topLabel: `${top.alias} (${top.path})`,
  });
  // Never archive a half-merged node: an interrupted transaction is completed or dropped first.
  recoverInterrupted([node.hostPath, ...family.nodes.slice(1).map((n) => n.hostPath)], top.hostPath);
  const scratch = mkdtempSync(join(tmpdir(), 'redpak-export-'));
  try {
    const skipped: string[] = [];
    const entries: SourceEntry[] = [];
    const nodeDirs: string[] = [''];
    collect(node.hostPath, '', { withDescendants: options.withDescendants ?? false, entries, skipped, nodeDirs });

    // Consistent copies of the databases, and what rpm reads in them.
    const manifestNodes: ManifestNode[] = [];
    for (const rel of nodeDirs.sort()) {
      const hostPath = rel ? join(node.hostPath, rel) : node.hostPath;
      const loaded = loadNode(new Sysroot('/'), hostPath, { admin: false });
      if (!loaded) throw new RedpakError('not-a-node', `${hostPath} stopped being a node during the export`);
      let packages: string[] = [];
      const db = join(hostPath, RPM_DBPATH, SQLITE_DB);
      if (existsSync(db)) {
        const snapshotRoot = join(scratch, `db-${manifestNodes.length}`);
        const copy = await snapshotRpmDb(hostPath, snapshotRoot);
        const dbRel = posix.join(rel, RPMDB_REL, SQLITE_DB);
        const entry = entries.find((e) => e.path === dbRel);
        if (entry) entry.source = copy;
        packages = (await queryPackages(snapshotRoot, { includeKeys: true })).map((p) => p.nevra).sort();
      }
      manifestNodes.push({ path: rel, alias: loaded.alias, state: loaded.status.state, packages });
    }

    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const entry of entries) {
      if (entry.type !== 'file') continue;
      Object.assign(entry, await sha256File(entry.source));
    }
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      node: { path: node.path, alias: node.alias },
      withDescendants: options.withDescendants ?? false,
      nodes: manifestNodes,
      entries: entries.map(({ source: _source, ...e }) => e),
    };
    const { sha256, size } = await writeArchive(output, manifest, entries);
    const signature = options.sign ? await signFile(output, options.sign) : undefined;
    return {
      node: node.path,
      alias: node.alias,
      output,
      sha256,
      size,
      nodes: manifestNodes.map((n) => ({
        path: n.path ? posix.join(node.path, n.path) : node.path,
        alias: n.alias,
        packages: n.packages.length,
      })),
      entries: entries.length,
      skipped,
      ...(signature ? { signature } : {}),
    };
  } finally {
    lock.release();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function collect(
  dir: string,
  rel: string,
  ctx: { withDescendants: boolean; entries: SourceEntry[]; skipped: string[]; nodeDirs: string[] },
): void {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const path = rel ? `${rel}/${name}` : name;
    // Exclusions are relative to the node the path belongs to.
    const owner =
      ctx.nodeDirs.filter((n) => n === '' || path.startsWith(`${n}/`)).sort((a, b) => b.length - a.length)[0] ?? '';
    const inNode = owner ? path.slice(owner.length + 1) : path;
    if (EXCLUDED.has(inNode)) continue;
    if (RESERVED_NAMES.has(name)) {
      ctx.skipped.push(path);
      continue;
    }
    if (dirname(inNode) === RPMDB_REL && RPMDB_TRANSIENT.test(name)) continue;
    const st = lstatSync(full);
    if (st.isDirectory()) {
      if (isNodeDir(full)) {
        if (!ctx.withDescendants) continue;
        ctx.nodeDirs.push(path);
      }
      ctx.entries.push({ path, type: 'directory', mode: octal(normalisedMode('directory', st)), source: full });
      collect(full, path, ctx);
    } else if (st.isFile()) {
      ctx.entries.push({ path, type: 'file', mode: octal(normalisedMode('file', st)), source: full });
    } else if (st.isSymbolicLink()) {
      const target = readlinkSync(full);
      const nodeRel = owner ? path.slice(owner.length + 1) : path;
      if (!linkStaysInside(nodeRel, target)) {
        throw new RedpakError('io', `cannot export ${full}: the symlink points outside its node (${target})`, {
          hint: 'make it relative and inside the node, or remove it: import refuses links that escape the node',
        });
      }
      ctx.entries.push({ path, type: 'symlink', mode: '0777', target, source: full });
    } else {
      ctx.skipped.push(path);
    }
  }
}

/**
 * Copies the node's sqlite database (main file and write-ahead log) into `snapshotRoot`, then
 * checkpoints the copy's log into it: the copy holds every committed transaction, in one file.
 * The caller holds the family lock, so no redwrap-dnf transaction writes meanwhile.
 */
async function snapshotRpmDb(nodeRoot: string, snapshotRoot: string): Promise<string> {
  const from = join(nodeRoot, RPM_DBPATH);
  const to = join(snapshotRoot, RPM_DBPATH);
  mkdirSync(to, { recursive: true });
  const db = join(to, SQLITE_DB);
  copyFileSync(join(from, SQLITE_DB), db);
  const wal = join(from, `${SQLITE_DB}-wal`);
  if (existsSync(wal) && statSync(wal).size > 0) {
    copyFileSync(wal, `${db}-wal`);
    const script =
      'import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute("PRAGMA wal_checkpoint(TRUNCATE)")\nc.close()\n';
    await run(solverPython(), ['-c', script, db], {
      purpose: `fold the write-ahead log of ${join(from, SQLITE_DB)} into its copy`,
    });
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
  }
  return db;
}

async function writeArchive(
  output: string,
  manifest: ArchiveManifest,
  entries: readonly SourceEntry[],
): Promise<{ sha256: string; size: number }> {
  const temp = `${output}.tmp-${process.pid}`;
  const hash = createHash('sha256');
  let size = 0;
  const pack = tarPack();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const written = pipeline(pack, counter, createWriteStream(temp, { mode: 0o644 }));
  const base = { mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };
  const add = (header: TarHeader, content?: Buffer) =>
    new Promise<void>((resolvePromise, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolvePromise());
      if (content) pack.entry(header, content, callback);
      else pack.entry(header, callback);
    });
  try {
    await add(
      { ...base, name: MANIFEST_NAME, type: 'file', mode: 0o644 },
      Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`),
    );
    for (const entry of entries) {
      const mode = parseInt(entry.mode, 8);
      if (entry.type === 'directory') await add({ ...base, name: `${entry.path}/`, type: 'directory', mode });
      else if (entry.type === 'symlink')
        await add({ ...base, name: entry.path, type: 'symlink', mode, linkname: entry.target });
      else {
        const content = await readFile(entry.source);
        if (createHash('sha256').update(content).digest('hex') !== entry.sha256) {
          throw new RedpakError('io', `${entry.source} changed while it was being exported`, {
            hint: 'run the export again',
          });
        }
        await add({ ...base, name: entry.path, type: 'file', mode, size: content.length }, content);
      }
    }
    pack.finalize();
    await written;
    renameSync(temp, output);
  } catch (error) {
    pack.destroy();
    await written.catch(() => undefined);
    rmSync(temp, { force: true });
    if (error instanceof RedpakError) throw error;
    throw new RedpakError('io', `cannot write ${output}: ${(error as Error).message}`, { cause: error });
  }
  return { sha256: hash.digest('hex'), size };
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportOptions {
  archive: string;
  /** The new node's path: must not exist, or be an empty directory. */
  redpath: string;
  sysroot?: string;
  cwd?: string;
  host: HostFacts;
  /** The archive's expected sha256 (as export printed it). */
  sha256?: string;
  /** Public key files: the archive must carry a good signature by one of them. */
  verifyKeys?: string[];
  /** The detached signature (default ARCHIVE.asc). */
  signature?: string;
  /** Accept packages that an ancestor at the destination has too (rule 2 override). */
  forcenode?: boolean;
  lockWait?: number;
  /** Who writes the status `info` line. */
  tool?: string;
}

export interface ImportResult {
  /** The new node (target path) and its alias. */
  node: string;
  alias: string;
  /** Every node created, the imported node first. */
  nodes: { path: string; alias: string; state: string; packages: number }[];
  entries: number;
  sha256: string;
  /** Where the archive was exported from. */
  exportedFrom: string;
  /** With `verifyKeys`: who signed the archive. */
  signedBy?: { fingerprint: string; signer: string };
}

/** Unpacks an archive as a new node at `redpath`; see the module comment for what is checked. */
export async function importNode(options: ImportOptions): Promise<ImportResult> {
  const sysroot = Sysroot.open(options.sysroot);
  const targetPath = sysroot.targetPath(options.redpath, options.cwd);
  if (targetPath === '/') throw new RedpakError('usage', '/ cannot be a node', { hint: 'give a directory below it' });
  const hostPath = sysroot.toHost(targetPath);
  const archive = resolve(options.cwd ?? process.cwd(), options.archive);
  if (!existsSync(archive) || !statSync(archive).isFile())
    throw new RedpakError('io', `archive ${archive} does not exist or is not a file`);
  if (existsSync(hostPath) || isSymlink(hostPath)) {
    const st = lstatSync(hostPath);
    if (!st.isDirectory() || readdirSync(hostPath).length > 0) {
      throw new RedpakError(
        'node-exists',
        `cannot import into ${targetPath}: it exists${isNodeDir(hostPath) ? ' and is a node' : ' and is not an empty directory'}`,
        {
          hint: 'choose a new path, or remove it first (redmanager remove-node)',
        },
      );
    }
  }
  const ancestors = destinationAncestors(sysroot, targetPath);
  const top = ancestors[ancestors.length - 1];
  if (options.sha256) {
    const { sha256 } = await sha256File(archive);
    if (sha256 !== options.sha256.toLowerCase())
      throw archiveError(
        archive,
        `its sha256 is ${sha256}, not ${options.sha256}: it is not the archive that was exported`,
      );
  }
  let signedBy: ImportResult['signedBy'];
  if (options.verifyKeys?.length) {
    const signature = resolve(options.cwd ?? process.cwd(), options.signature ?? signaturePath(archive));
    if (!existsSync(signature))
      throw archiveError(
        archive,
        `no signature ${signature}`,
        'nothing was imported; copy the .asc that export wrote next to the archive, or name it with --signature',
      );
    signedBy = await verifyFile(
      archive,
      signature,
      options.verifyKeys.map((k) => resolve(options.cwd ?? process.cwd(), k)),
    );
  }

  const lock: FamilyLock | undefined = top
    ? await acquireFamilyLock(top.hostPath, {
        command: `redmanager import ${archive} --redpath ${targetPath}`,
        waitSeconds: options.lockWait,
        topLabel: `${top.alias} (${top.path})`,
      })
    : undefined;
  const createdParents: string[] = [];
  for (let d = dirname(hostPath); !existsSync(d); d = dirname(d)) createdParents.unshift(d);
  let staging: string | undefined;
  try {
    for (const d of createdParents) mkdirSync(d);
    // Hidden (dot) name: never taken for a child node while it is being filled.
    staging = mkdtempSync(join(dirname(hostPath), '.redpak-import-'));
    chmodSync(staging, 0o755);
    const { manifest, sha256 } = await unpack(archive, staging);
    const staged = checkStagedNodes(archive, manifest, staging);
    // rpm must read every database, and find what the manifest says.
    for (const n of staged) {
      const nevras = (
        await queryPackages(n.hostPath, { includeKeys: true }).catch((error: unknown) => {
          throw archiveError(
            archive,
            `rpm cannot read the database of node ${n.manifest.alias}: ${(error as Error).message}`,
          );
        })
      )
        .map((p) => p.nevra)
        .sort();
      if (JSON.stringify(nevras) !== JSON.stringify(n.manifest.packages)) {
        throw archiveError(
          archive,
          `the database of node ${n.manifest.alias} does not hold the packages its manifest lists`,
        );
      }
    }
    await checkFamilyRules(sysroot, ancestors, staged, staging, targetPath, options.forcenode ?? false);

    const now = options.host.now;
    for (const n of staged) {
      const status: NodeStatus = {
        ...n.status,
        realpath: n.manifest.path ? posix.join(targetPath, n.manifest.path) : targetPath,
        info: `imported by ${options.tool ?? 'redmanager'} the ${formatToday(now)}`,
        timestamp: now.getTime(),
      };
      const file = join(n.hostPath, STATUS_FILE);
      const fd = openSync(file, 'w', 0o644);
      try {
        writeSync(fd, serializeStatus(status));
      } finally {
        closeSync(fd);
      }
    }
    for (const n of [...staged].reverse()) await restorePackageFileMetadata(n.hostPath, staging);

    if (existsSync(hostPath)) rmdirSync(hostPath);
    renameSync(staging, hostPath);
    staging = undefined;
    return {
      node: targetPath,
      alias: staged[0].manifest.alias,
      nodes: staged.map((n) => ({
        path: n.manifest.path ? posix.join(targetPath, n.manifest.path) : targetPath,
        alias: n.manifest.alias,
        state: n.status.state,
        packages: n.manifest.packages.length,
      })),
      entries: manifest.entries.length,
      sha256,
      exportedFrom: manifest.node.path,
      ...(signedBy ? { signedBy } : {}),
    };
  } catch (error) {
    // Entries are at most MAX_ENTRY_DEPTH deep and short enough for paths: rmSync can remove them.
    // Should it still fail, the error says what is left, and the first error is kept.
    for (const dir of [...(staging ? [staging] : []), ...[...createdParents].reverse()]) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (cleanup) {
        throw new RedpakError(
          'io',
          `${(error as Error).message}; and ${dir} could not be removed: ${(cleanup as Error).message}`,
          { cause: error, hint: `remove ${dir} by hand` },
        );
      }
    }
    if (error instanceof RedpakError) throw error;
    throw new RedpakError('io', `cannot import ${archive} into ${targetPath}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    lock?.release();
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The nodes above `targetPath`, closest first; every one must be enabled. */
function destinationAncestors(sysroot: Sysroot, targetPath: string): RedNode[] {
  const nodes: RedNode[] = [];
  for (let dir = dirname(targetPath); dir !== '/'; dir = dirname(dir)) {
    const node = loadNode(sysroot, dir, { admin: false });
    if (node) nodes.push(node);
  }
  if (nodes.length > 0) assertEnabled({ sysroot: sysroot.dir, admin: false, nodes });
  return nodes;
}

/** Reads the archive into `staging`, checking every entry against the manifest. */
async function unpack(archive: string, staging: string): Promise<{ manifest: ArchiveManifest; sha256: string }> {
  const extract = tarExtract();
  const hash = createHash('sha256');
  const input = createReadStream(archive);
  input.on('data', (chunk: Buffer | string) => hash.update(chunk));
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract);
  let manifest: ArchiveManifest | undefined;
  let expected = new Map<string, ManifestEntry>();
  const seen = new Map<string, EntryType>();
  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (!manifest) {
        if (header.name !== MANIFEST_NAME || header.type !== 'file')
          throw archiveError(
            archive,
            `the first entry is ${JSON.stringify(header.name)}, not ${MANIFEST_NAME}: not a redpak node archive`,
          );
        if ((header.size ?? 0) > MAX_MANIFEST_BYTES) throw archiveError(archive, 'its manifest is too large');
        manifest = parseManifest(archive, (await readEntry(entry)).toString('utf8'));
        expected = new Map(manifest.entries.map((e) => [e.path, e]));
        continue;
      }
      const checked = checkEntryPath(header.name);
      if ('unsafe' in checked) throw archiveError(archive, `unsafe entry: ${checked.unsafe}`);
      const path = checked.path;
      const type =
        header.type === 'file' || header.type === 'directory' || header.type === 'symlink' ? header.type : undefined;
      if (!type)
        throw archiveError(
          archive,
          `unsafe entry ${JSON.stringify(path)}: ${header.type} entries are refused (only files, directories and symlinks)`,
        );
      const want = expected.get(path);
      if (!want)
        throw archiveError(
          archive,
          `entry ${JSON.stringify(path)} is not in the manifest: the archive was tampered with`,
        );
      if (seen.has(path)) throw archiveError(archive, `entry ${JSON.stringify(path)} appears twice`);
      const parent = posix.dirname(path);
      if (parent !== '.' && seen.get(parent) !== 'directory')
        throw archiveError(archive, `entry ${JSON.stringify(path)} does not come after its directory ${parent}`);
      const mode = (header.mode ?? 0) & 0o7777;
      if (want.type !== type || parseInt(want.mode, 8) !== mode) {
        throw archiveError(
          archive,
          `entry ${JSON.stringify(path)} is a ${type} with mode ${octal(mode)}, the manifest says ${want.type} ${want.mode}: the archive was tampered with`,
        );
      }
      // Export writes 0755/0644: a world-writable file or directory (sticky directories aside)
      // would let any user of the family change the node.
      if (type !== 'symlink' && mode & 0o002 && !(type === 'directory' && mode & 0o1000)) {
        throw archiveError(
          archive,
          `unsafe entry: ${type} ${JSON.stringify(path)} is world-writable (mode ${octal(mode)})`,
        );
      }
      const dest = join(staging, path);
      if (type === 'directory') {
        mkdirSync(dest, { mode });
        entry.resume();
      } else if (type === 'symlink') {
        const target = header.linkname ?? '';
        if (!linkStaysInside(path, target))
          throw archiveError(
            archive,
            `unsafe entry: symlink ${JSON.stringify(path)} points outside the node (${target})`,
          );
        if (target !== want.target)
          throw archiveError(
            archive,
            `symlink ${JSON.stringify(path)} points to ${target}, the manifest says ${want.target}: the archive was tampered with`,
          );
        symlinkSync(target, dest);
        entry.resume();
      } else {
        if (header.size !== want.size)
          throw archiveError(
            archive,
            `file ${JSON.stringify(path)} has ${header.size} bytes, the manifest says ${want.size}: the archive was tampered with`,
          );
        const fileHash = createHash('sha256');
        await pipeline(
          entry,
          new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              fileHash.update(chunk);
              callback(null, chunk);
            },
          }),
          createWriteStream(dest, { flags: 'wx', mode }),
        );
        chmodSync(dest, mode);
        if (fileHash.digest('hex') !== want.sha256)
          throw archiveError(
            archive,
            `the content of ${JSON.stringify(path)} does not match its sha256 in the manifest: the archive was tampered with`,
          );
      }
      if (type === 'directory') chmodSync(dest, mode);
      seen.set(path, type);
    }
  } catch (error) {
    input.destroy();
    if (error instanceof RedpakError) throw error;
    const message = (error as Error).message;
    throw archiveError(
      archive,
      /unexpected end|end of data|premature|size mismatch/i.test(message)
        ? `truncated (${message})`
        : `not a readable tar archive (${message})`,
    );
  }
  if (!manifest) throw archiveError(archive, 'empty: no manifest, not a redpak node archive');
  const missing = manifest.entries.filter((e) => !seen.has(e.path));
  if (missing.length > 0) {
    throw archiveError(
      archive,
      `truncated: ${missing.length} entr${missing.length === 1 ? 'y' : 'ies'} of the manifest missing (first: ${missing[0].path})`,
    );
  }
  // Every link, resolved through the unpacked tree and the other links (`s -> .` then
  // `x -> s/s/../..` passes a lexical check and still leaves the node).
  for (const [path, type] of seen) {
    if (type !== 'symlink') continue;
    const why = linkEscapes(staging, path, readlinkSync(join(staging, path)));
    if (why)
      throw archiveError(archive, `unsafe entry: symlink ${JSON.stringify(path)} leads outside the node: ${why}`);
  }
  return { manifest, sha256: hash.digest('hex') };
}

async function readEntry(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseManifest(archive: string, text: string): ArchiveManifest {
  let value: ArchiveManifest;
  try {
    value = JSON.parse(text) as ArchiveManifest;
  } catch (error) {
    throw archiveError(archive, `its manifest is not JSON (${(error as Error).message})`);
  }
  if (value?.format !== ARCHIVE_FORMAT)
    throw archiveError(archive, 'its manifest is not a redpak node archive manifest');
  if (value.version !== ARCHIVE_VERSION)
    throw archiveError(
      archive,
      `archive format version ${value.version} is not supported (this redpak reads version ${ARCHIVE_VERSION})`,
      'import it with the redpak version that exported it',
    );
  if (
    !Array.isArray(value.entries) ||
    !Array.isArray(value.nodes) ||
    value.nodes.length === 0 ||
    typeof value.node?.path !== 'string'
  )
    throw archiveError(archive, 'its manifest is incomplete');
  if (value.entries.length > MAX_ENTRIES)
    throw archiveError(
      archive,
      `its manifest lists ${value.entries.length} entries, more than the ${MAX_ENTRIES} an archive may hold`,
    );
  for (const e of value.entries) {
    const checked = typeof e?.path === 'string' ? checkEntryPath(e.path) : { unsafe: 'entry without a path' };
    if ('unsafe' in checked) throw archiveError(archive, `unsafe entry in the manifest: ${checked.unsafe}`);
    if (!['file', 'directory', 'symlink'].includes(e.type) || !/^0[0-7]{3}$/.test(String(e.mode)))
      throw archiveError(archive, `manifest entry ${JSON.stringify(e.path)} has a bad type or mode`);
    if (e.type === 'file' && (typeof e.sha256 !== 'string' || typeof e.size !== 'number'))
      throw archiveError(archive, `manifest entry ${JSON.stringify(e.path)} has no digest`);
  }
  for (const n of value.nodes) {
    if (
      typeof n?.path !== 'string' ||
      !Array.isArray(n.packages) ||
      (n.path !== '' && 'unsafe' in checkEntryPath(n.path))
    )
      throw archiveError(archive, 'its manifest lists a bad node');
  }
  return value;
}

interface StagedNode {
  manifest: ManifestNode;
  hostPath: string;
  status: NodeStatus;
  /** Staged host paths of the archived nodes above it, closest first. */
  via: string[];
}

/** The nodes of the archive, as unpacked: each a real node (status, config), parents first. */
function checkStagedNodes(archive: string, manifest: ArchiveManifest, staging: string): StagedNode[] {
  const listed = [...manifest.nodes].sort((a, b) => (a.path < b.path ? -1 : 1));
  if (listed[0]?.path !== '') throw archiveError(archive, 'its manifest does not list the exported node itself');
  const byPath = new Set(listed.map((n) => n.path));
  const found = manifest.entries
    .filter((e) => e.type === 'file' && posix.basename(e.path) === STATUS_FILE)
    .map((e) => posix.dirname(e.path))
    .map((d) => (d === '.' ? '' : d));
  for (const dir of found)
    if (!byPath.has(dir))
      throw archiveError(archive, `${dir}/${STATUS_FILE} makes ${dir} a node, but the manifest does not list it`);
  return listed.map((n) => {
    const hostPath = n.path ? join(staging, n.path) : staging;
    const statusFile = join(hostPath, STATUS_FILE);
    if (!lstatSync(statusFile, { throwIfNoEntry: false })?.isFile())
      throw archiveError(archive, `node ${n.alias} has no ${STATUS_FILE}`);
    const configFile = join(hostPath, NORMAL_CONFIG);
    if (!lstatSync(configFile, { throwIfNoEntry: false })?.isFile())
      throw archiveError(archive, `node ${n.alias} has no ${NORMAL_CONFIG}`);
    const status = parseNodeStatus(
      readFileSync(statusFile, 'utf8'),
      `${archive}:${n.path ? `${n.path}/` : ''}${STATUS_FILE}`,
    );
    parseNodeConfig(
      readFileSync(configFile, 'utf8'),
      `${archive}:${n.path ? `${n.path}/` : ''}${NORMAL_CONFIG}`,
      'normal',
    );
    const via = listed
      .filter((m) => m !== n && (m.path === '' || n.path.startsWith(`${m.path}/`)))
      .sort((a, b) => b.path.length - a.path.length)
      .map((m) => (m.path ? join(staging, m.path) : staging));
    return { manifest: n, hostPath, status, via };
  });
}

async function checkFamilyRules(
  sysroot: Sysroot,
  ancestors: readonly RedNode[],
  staged: readonly StagedNode[],
  staging: string,
  targetPath: string,
  forcenode: boolean,
): Promise<void> {
  const dbRoots = ancestors.map((a) => a.hostPath);
  const top = ancestors[ancestors.length - 1];
  const above = dirname(top ? top.path : targetPath);
  if (above !== '/' && hasRpmDb(sysroot.toHost(above))) dbRoots.push(sysroot.toHost(above));
  const violations = await checkPlacement({
    ancestors: dbRoots,
    nodes: staged.map((n) => ({ node: n.hostPath, via: n.via })),
    forcenode,
    ignoreDuplicates: [HOST_PROVIDES_PACKAGE],
  });
  if (violations.length === 0) return;
  const name = (hostPath: string) => {
    if (hostPath === staging || hostPath.startsWith(`${staging}/`))
      return posix.join(targetPath, relative(staging, hostPath));
    const anc = ancestors.find((a) => a.hostPath === hostPath);
    return anc ? `${anc.alias} (${anc.path})` : hostPath;
  };
  // Host paths (staging, ancestors) → the names users know, longest first, in one pass.
  const paths = [...new Set(violations.flatMap((v) => [v.node, ...(v.ancestor ? [v.ancestor] : [])]))].sort(
    (a, b) => b.length - a.length,
  );
  const pattern = new RegExp(paths.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const describe = (v: PlacementViolation) =>
    ` - ${paths.length ? v.message.replace(pattern, (p) => name(p)) : v.message}`;
  const dup = violations.some((v) => v.rule === 'duplicate');
  const unsatisfied = violations.some((v) => v.rule === 'unsatisfied');
  throw new RedpakError(
    'family-rule',
    `the archive cannot become node ${targetPath}: it would break family rules:\n${violations.map(describe).join('\n')}`,
    {
      hint:
        [
          dup
            ? 'remove the duplicated packages from the ancestor, or import with --forcenode to keep the node its own copies'
            : '',
          unsatisfied
            ? 'install the missing providers in an ancestor first, or import under a family that has them'
            : '',
        ]
          .filter(Boolean)
          .join('; ') || 'import it under another family',
    },
  );
}

/**
 * Archives normalise modes and zero mtimes; rpm recorded what its packages installed. Files of
 * the node's packages get their recorded permissions (without setuid/setgid: an archive must not
 * plant privileged binaries) and modification times back, so `rpm -V` sees them as installed.
 */
async function restorePackageFileMetadata(nodeHost: string, staging: string): Promise<void> {
  if (!hasRpmDb(nodeHost)) return;
  const root = realpathSync(staging);
  for (const file of await queryFileMetadata(nodeHost)) {
    const rel = posix.normalize(file.path).replace(/^\/+/, '');
    if (rel === '' || rel === '..' || rel.startsWith('../')) continue;
    const full = join(nodeHost, rel);
    let st: Stats | undefined;
    try {
      st = lstatSync(full);
    } catch {
      continue; // not on disk (e.g. %ghost, excluded docs)
    }
    const mode = parseInt(file.mode, 8);
    const kind = mode & 0o170000;
    try {
      const real = realpathSync(dirname(full));
      if (real !== root && !real.startsWith(`${root}/`)) continue;
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      if (kind === 0o120000) lutimesSync(full, file.mtime, file.mtime);
      continue;
    }
    if ((st.isFile() && kind === 0o100000) || (st.isDirectory() && kind === 0o040000)) {
      chmodSync(full, mode & 0o1777);
      utimesSync(full, file.mtime, file.mtime);
    }
  }
}

/** Reads only the manifest of an archive (for listing what an archive holds). */
export async function readManifest(archive: string): Promise<ArchiveManifest> {
  const extract = tarExtract();
  const input = createReadStream(archive);
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      if (entry.header.name !== MANIFEST_NAME) break;
      return parseManifest(archive, (await readEntry(entry)).toString('utf8'));
    }
  } catch (error) {
    if (error instanceof RedpakError) throw error;
    throw archiveError(archive, `not a readable tar archive (${(error as Error).message})`);
  } finally {
    input.destroy();
    extract.destroy();
  }
  throw archiveError(archive, `no ${MANIFEST_NAME} first: not a redpak node archive`);
}
