/**
 * Runs rpm inside a view of the family (rules 7 and 8, toolchain.md §4.6), staged:
 *
 *   - each top-level directory (usr, etc, var, …) of the view is an overlay whose lower layers are
 *     the node, its ancestors and, for usr and etc, the host; its upper layer is a STAGING
 *     directory, not the node. rpm and its scriptlets see the family's /bin/sh and tools, and
 *     every change (files, whiteouts, the node's rpm database) lands in the staging directory;
 *   - only when every rpm command succeeded is the staging directory merged into the node, rpm
 *     database last, synchronously (signals wait until it is done). A directory overlayfs made
 *     opaque (removed, then created again, by rpm or a scriptlet) replaces the node's directory
 *     instead of merging into it. A failure or an interruption before that leaves the node
 *     exactly as it was; the staging directory is dropped (or, after a kill, by the next
 *     transaction, under the family lock).
 *
 * var is layered on the node alone: an ancestor's rpm database must never show through.
 * Needs root (mount namespaces), util-linux `unshare` and bubblewrap.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  copyFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { recordGeneration } from './generations.js';
import { run } from './exec.js';
import { rpmSupportsForceDebian, RPM_DBPATH } from './rpm.js';
import { solverPython } from './solver.js';

/** Under the node; hidden so it is never taken for a child node. */
export const STAGE_DIR = '.redpak-stage';
/** Directories always layered (others are added when a package has files there). */
const DEFAULT_TOP_DIRS = ['usr', 'etc', 'var', 'opt', 'srv'];
/** Layered with the host's copy at the bottom: the family's shell, libraries and tools. */
const HOST_LOWER = new Set(['usr', 'etc']);
/** Never layered. */
const SPECIAL = new Set(['dev', 'proc', 'sys', 'tmp', 'run', '']);
/** Merged-/usr symlinks of the host, reproduced in the view. */
const USR_LINKS = ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32'];

export interface RpmCommand {
  /** rpm arguments after `rpm --dbpath /var/lib/rpm` (no --root: the view is the root). */
  args: string[];
  /** Files the command reads (package files): bound read-only at the same path. */
  reads?: string[];
}

export interface StagedRun {
  /** Keep a generation of the node before merging (what the transaction is, for its label). */
  generation?: { command: string; historyId?: number };
  /** Host path of the node. */
  node: string;
  /** Host paths of the ancestors, closest first. */
  ancestors: string[];
  commands: RpmCommand[];
  /** Files to write into the node with the same transaction (e.g. history), relative path → content. */
  extraFiles?: Record<string, string>;
  /** Called on each line rpm prints on stdout (progress). */
  onLine?: (line: string) => void;
  /** Aborts the run (before the merge). */
  signal?: AbortSignal;
}

export interface StagedResult {
  /** rpm's stderr lines (scriptlet failures are warnings there). */
  warnings: string[];
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The host's merged-/usr links, reproduced in the view: name → target ('bin' → 'usr/bin'). */
export function usrLinkTargets(): Record<string, string> {
  return Object.fromEntries(hostUsrLinks().map((l) => [l, readlinkSync(`/${l}`)]));
}

function hostUsrLinks(): string[] {
  return USR_LINKS.filter((l) => {
    try {
      return lstatSync(`/${l}`).isSymbolicLink();
    } catch {
      return false;
    }
  });
}

/** Drop a staging directory left by a killed run (call under the family lock). */
export function dropStaleStage(node: string): void {
  rmSync(join(node, STAGE_DIR), { recursive: true, force: true });
}

/** Top-level directories the packages write to (from their file lists). */
export async function packageTopDirs(rpmPaths: readonly string[]): Promise<string[]> {
  if (rpmPaths.length === 0) return [];
  const { stdout } = await run('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', '[%{FILENAMES}\\n]', ...rpmPaths], { purpose: 'list package files' });
  return [...new Set(stdout.split('\n').map((l) => l.split('/')[1] ?? '').filter((d) => d !== ''))];
}

export async function runStaged(request: StagedRun, extraTopDirs: readonly string[] = []): Promise<StagedResult> {
  const { node } = request;
  const stage = join(node, STAGE_DIR);
  rmSync(stage, { recursive: true, force: true });
  const links = hostUsrLinks();
  const tops = [...new Set([...DEFAULT_TOP_DIRS, ...extraTopDirs])].filter((d) => !SPECIAL.has(d) && !links.includes(d) && !d.startsWith('.'));
  const mounts: string[] = [];
  const binds: string[] = [];
  for (const d of tops) {
    const upper = join(stage, 'upper', d);
    const work = join(stage, 'work', d);
    const view = join(stage, 'view', d);
    for (const dir of [upper, work, view]) mkdirSync(dir, { recursive: true });
    const lowers = [join(node, d), ...(d === 'var' ? [] : request.ancestors.map((a) => join(a, d))), ...(HOST_LOWER.has(d) ? [`/${d}`] : [])].filter(
      (p) => existsSync(p) && statSync(p).isDirectory(),
    );
    if (lowers.length === 0) {
      const empty = join(stage, 'empty', d);
      mkdirSync(empty, { recursive: true });
      lowers.push(empty);
    }
    // overlayfs option syntax: ':' separates layers, ',' options; escape both.
    const esc = (p: string) => p.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/,/g, '\\,');
    mounts.push(`mount -t overlay overlay -o ${q(`lowerdir=${lowers.map(esc).join(':')},upperdir=${esc(upper)},workdir=${esc(work)}`)} ${q(view)}`);
    binds.push('--bind', view, `/${d}`);
  }
  for (const l of links) binds.push('--symlink', readlinkSync(`/${l}`), `/${l}`);
  const forceDebian = (await rpmSupportsForceDebian()) ? ['--force-debian'] : [];

  const warnings: string[] = [];
  try {
    for (const command of request.commands) {
      const reads = [...new Set((command.reads ?? []).map((f) => dirname(f)))];
      const bwrap = [
        'bwrap',
        ...binds,
        '--dev', '/dev',
        '--proc', '/proc',
        '--tmpfs', '/tmp',
        '--tmpfs', '/run',
        ...reads.flatMap((r) => ['--ro-bind', r, r]),
        // Anything written outside the layered directories would be lost with the sandbox: refuse it.
        '--remount-ro', '/',
        '--unshare-all',
        '--die-with-parent',
        '--setenv', 'PATH', '/usr/sbin:/usr/bin:/sbin:/bin',
        '--',
        'rpm',
        // Only rpm's own modes take it: --initdb execs rpmdb, which rejects it.
        ...(['-U', '-i', '-e'].includes(command.args[0] ?? '') ? forceDebian : []),
        '--dbpath', RPM_DBPATH,
        ...command.args,
      ];
      const script = `set -e\n${mounts.join('\n')}\nexec ${bwrap.map(q).join(' ')}\n`;
      const result = await spawnStreaming('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], request.onLine, request.signal);
      warnings.push(...result.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^(warning: )?Unable to change root directory/.test(l)));
      if (request.signal?.aborted) throw abortError(node);
      if (result.status !== 0) {
        throw new RedpakError('tool-failed', `rpm failed in node ${node} (${result.signal ? `killed by ${result.signal}` : `status ${result.status}`}): ${result.stderr.trim() || result.stdout.trim()}`, {
          hint: 'nothing was changed in the node; fix the cause above and retry',
        });
      }
    }
    if (request.signal?.aborted) throw abortError(node);
    const upper = join(stage, 'upper');
    for (const [rel, text] of Object.entries(request.extraFiles ?? {})) {
      mkdirSync(dirname(join(upper, rel)), { recursive: true });
      writeFileSync(join(upper, rel), text);
    }
    const opaque = opaqueDirs(upper);
    if (request.generation) recordGeneration(node, upper, request.generation, opaque);
    mergeUpper(upper, node, opaque);
    return { warnings };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function abortError(node: string): RedpakError {
  return new RedpakError('tool-failed', `interrupted: nothing was changed in node ${node}`, { hint: 'run the command again' });
}

interface Spawned {
  status: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function spawnStreaming(command: string, args: string[], onLine?: (line: string) => void, signal?: AbortSignal): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RedpakError('tool-failed', 'interrupted before rpm ran'));
      return;
    }
    // Own process group: a terminal's Ctrl-C reaches us, not rpm in the middle of a package.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      out += text;
      pending += text;
      const lines = pending.split(/[\n\r]/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine?.(line);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const onAbort = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone already */
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new RedpakError('tool-missing', `cannot run ${command}: ${error.message}`, { hint: 'apt-get install util-linux bubblewrap' }));
    });
    child.on('close', (status, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (pending.trim()) onLine?.(pending);
      resolve({ status: status ?? 128, signal: sig, stdout: out, stderr: err });
    });
  });
}

/**
 * The directories of an overlay upper layer that overlayfs marked opaque (xattr
 * trusted.overlay.opaque=y): what the lower layers had there is hidden, not merged. Node has no
 * xattr call; Python's os.getxattr does it.
 */
export function opaqueDirs(upper: string): Set<string> {
  const script = [
    'import os, sys',
    'top = sys.argv[1]',
    'for d, dirs, files in os.walk(top):',
    '    for name in list(dirs):',
    '        path = os.path.join(d, name)',
    '        try:',
    "            opaque = os.getxattr(path, 'trusted.overlay.opaque', follow_symlinks=False) == b'y'",
    '        except OSError:',
    '            opaque = False',
    '        if opaque:',
    '            dirs.remove(name)',
    "            print(os.path.relpath(path, top))",
  ].join('\n');
  const result = spawnSync(solverPython(), ['-S', '-E', '-c', script, upper], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new RedpakError('tool-failed', `cannot read the overlay attributes of ${upper}: ${result.error?.message ?? result.stderr.trim()}`, {
      hint: 'nothing was changed in the node; python3 is needed (see REDPAK_PYTHON)',
    });
  }
  return new Set(result.stdout.split('\n').filter((l) => l !== ''));
}

function isWhiteout(path: string): boolean {
  const st = lstatSync(path);
  return st.isCharacterDevice() && st.rdev === 0;
}

/**
 * Apply an overlay upper directory to the node: whiteouts delete, files and symlinks replace,
 * directories merge, and `opaque` directories (upper-relative) replace the node's. The rpm
 * database (var/lib/rpm) goes last, so the database never lists a package whose files are not in
 * place. Synchronous on purpose: no signal handler runs midway.
 */
export function mergeUpper(upper: string, node: string, opaque: ReadonlySet<string> = new Set()): void {
  const db = join(upper, RPM_DBPATH);
  const walk = (rel: string) => {
    const from = join(upper, rel);
    for (const name of readdirSync(from)) {
      const r = rel ? `${rel}/${name}` : name;
      const src = join(upper, r);
      if (src === db) continue;
      const dest = join(node, r);
      if (isWhiteout(src)) {
        rmSync(dest, { recursive: true, force: true });
        continue;
      }
      const st = lstatSync(src);
      if (st.isDirectory()) {
        let destSt;
        try {
          destSt = lstatSync(dest);
        } catch {
          destSt = undefined;
        }
        // The layer roots (usr, opt, …) exist in the upper layer because we made them: an empty
        // one means nothing was written there.
        if (!destSt && rel === '' && readdirSync(src).length === 0) continue;
        if (destSt && (!destSt.isDirectory() || opaque.has(r))) rmSync(dest, { recursive: true, force: true });
        if (!destSt || !destSt.isDirectory() || opaque.has(r)) mkdirSync(dest, { mode: st.mode & 0o7777 });
        walk(r);
        continue;
      }
      moveEntry(src, dest);
    }
  };
  walk('');
  if (existsSync(db)) {
    mkdirSync(join(node, RPM_DBPATH), { recursive: true });
    // The main file last: -wal/-shm first would pair an old database with a new journal for an instant only.
    const files = readdirSync(db).sort((a, b) => Number(a === 'rpmdb.sqlite') - Number(b === 'rpmdb.sqlite'));
    for (const f of files) {
      if (isWhiteout(join(db, f))) rmSync(join(node, RPM_DBPATH, f), { force: true });
      else moveEntry(join(db, f), join(node, RPM_DBPATH, f));
    }
  }
}

function moveEntry(src: string, dest: string): void {
  try {
    const existing = lstatSync(dest);
    if (existing.isDirectory()) rmSync(dest, { recursive: true, force: true });
  } catch {
    /* absent */
  }
  try {
    renameSync(src, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    const st = lstatSync(src);
    if (st.isSymbolicLink()) {
      rmSync(dest, { force: true });
      symlinkSync(readlinkSync(src), dest);
    } else copyFileSync(src, dest);
  }
}
