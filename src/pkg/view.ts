/**
 * Runs rpm inside a view of the family (rules 7 and 8, docs/host-tools.md, "Overlay and staging"), staged:
 *
 *   - each top-level directory (usr, etc, var, …) of the view is an overlay whose lower layers are
 *     the node, its ancestors and, for usr and etc, the host; its upper layer is a STAGING
 *     directory, not the node. rpm and its scriptlets see the family's /bin/sh and tools, and
 *     every change (files, whiteouts, the node's rpm database) lands in the staging directory;
 *   - only when every rpm command succeeded is the transaction committed: a journal (MERGE) is
 *     written atomically in the staging directory, then the staging directory is merged into
 *     the node, rpm database last, synchronously (signals wait until it is done), and the
 *     journal and the stage are removed. A directory overlayfs made opaque (removed, then created
 *     again, by rpm or a scriptlet) replaces the node's directory instead of merging into it.
 *     A failure or an interruption before the commit leaves the node exactly as it was; after a
 *     kill, the next command that reads the node drops an uncommitted stage or completes a
 *     committed merge (`recoverStage`, under the family lock). docs/transactions.md.
 *
 * var is layered on the node alone: an ancestor's rpm database must never show through.
 * Needs bubblewrap and the helper redpak-stage (else util-linux `unshare`, mount(8) and Python:
 * src/pkg/stage-runner.ts); as root, mount namespaces; as an ordinary user, a user namespace with
 * root mapped onto the user and overlays with `userxattr` (src/pkg/rootless.ts).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { RedpakError } from '../errors.js';
import { GENERATIONS_DIR, recordGeneration } from './generations.js';
import type { RecoveryNotice } from './recovery-notices.js';
import { InterruptedError, signalNameOf } from './interrupt.js';
import { packageFiles, RPM_DBPATH, viewRpmArgv } from './rpm.js';
import { rpmSupportsForceDebian } from './rpm-probe.js';
import { MERGE_JOURNAL, STAGE_DIR } from '../node/layout.js';
import { assertNoLinkBelow } from '../node/load.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import { syncFilesystem } from '../system/kernel-calls.js';
import { DEFAULT_BWRAP } from '../system/bwrap-path.js';
import { opaqueAttribute, overlayExtraOptions, runsRootless, type StagingMethod } from './rootless.js';
import {
  helperFailure,
  opaqueDirs,
  opaqueList,
  type StagedCommand,
  stagedCommand,
  type ViewMounts,
} from './stage-runner.js';

export { opaqueDirs };
import {
  collectCopyChanges,
  type CopyView,
  openOwnDirs,
  payloadParentDirs,
  prepareCopyView,
  unlockCopy,
} from './view-copyup.js';

export { STAGE_DIR };
/** Directories always layered (others are added when a package has files there). */
const DEFAULT_TOP_DIRS = ['usr', 'etc', 'var', 'opt', 'srv'];
/** Layered with the host's copy at the bottom: the family's shell, libraries and tools. */
const HOST_LOWER = new Set(['usr', 'etc']);
/** Never layered. */
const SPECIAL = new Set(['dev', 'proc', 'sys', 'tmp', 'run', '']);
/**
 * Where the view shows the package files a command reads: in its /run, a tmpfs. At their host
 * path, a cache under a layered directory (a node's own var/cache/dnf, with the node under /var)
 * would get its mount point made in the upper layer, and so left in the node.
 */
const READS_IN_VIEW = '/run/redpak-reads';
/** Merged-/usr symlinks of the host, reproduced in the view. */
const USR_LINKS = ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32'];

export interface RpmCommand {
  /** rpm arguments after `rpm --dbpath /var/lib/rpm` (no --root: the view is the root). */
  args: string[];
  /** Files the command reads (package files): bound read-only under `READS_IN_VIEW`, named so in `args`. */
  reads?: string[];
}

export interface StagedRun {
  /** The staged view: overlays, or a copy of the node (chosen by `chooseStaging`, src/pkg/rootless.ts). */
  staging: StagingMethod;
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
  /**
   * Top-level directories of packages being removed: rpm cannot remove them (each is the mount
   * point of its overlay), so the merge removes them from the node when they are left empty.
   */
  pruneEmptyTopDirs?: string[];
}

export interface StagedResult {
  /** rpm's stderr lines (scriptlet failures are warnings there). */
  warnings: string[];
}

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

/** Top-level directories the packages write to (from their file lists). */
export async function packageTopDirs(rpmPaths: readonly string[]): Promise<string[]> {
  const files = (await packageFiles(rpmPaths)).flat();
  return [...new Set(files.map((l) => l.split('/')[1] ?? '').filter((d) => d !== ''))];
}

/**
 * The first payload path that lands in a descendant node's directory (`descendants`: host paths
 * under `node`), with that descendant; the host's merged-/usr links are followed as rpm would.
 */
export function pathIntoDescendant(
  node: string,
  descendants: readonly string[],
  files: readonly string[],
): { path: string; descendant: string } | undefined {
  const prefixes = descendants
    .map((d) => ({ prefix: `/${relative(node, d)}`, descendant: d }))
    .filter((p) => !p.prefix.startsWith('/..'));
  if (prefixes.length === 0) return undefined;
  const links = usrLinkTargets();
  for (const path of files) {
    const [, top = '', ...rest] = path.split('/');
    const landed = links[top] ? `/${links[top].replace(/^\//, '')}/${rest.join('/')}` : path;
    for (const candidate of [path, landed]) {
      const hit = prefixes.find((p) => candidate === p.prefix || candidate.startsWith(`${p.prefix}/`));
      if (hit) return { path, descendant: hit.descendant };
    }
  }
  return undefined;
}

export async function runStaged(request: StagedRun, extraTopDirs: readonly string[] = []): Promise<StagedResult> {
  const { node } = request;
  const stage = join(node, STAGE_DIR);
  // A committed merge is completed by recovery (under the lock, before this), never thrown away.
  if (pendingMerge(node)) {
    throw new RedpakError('io', `node ${node} holds an interrupted merge that is not completed`, {
      hint: `run: redwrap-dnf --redpath ${node} list --installed`,
    });
  }
  removeStage(stage);
  liveStages.add(stage);
  let committed = false;
  const rootless = runsRootless();
  const links = hostUsrLinks();
  const tops = [...new Set([...DEFAULT_TOP_DIRS, ...extraTopDirs])].filter(
    (d) => !SPECIAL.has(d) && !links.includes(d) && !d.startsWith('.'),
  );
  // The layers under each top directory, node first. Once each: on an rpm-based host the host
  // itself (/) is the family's top database, and overlayfs refuses a layer given twice.
  const layersOf = (d: string) =>
    [
      ...new Set([
        join(node, d),
        ...(d === 'var' ? [] : request.ancestors.map((a) => join(a, d))),
        ...(HOST_LOWER.has(d) ? [`/${d}`] : []),
      ]),
    ].filter((p) => existsSync(p) && statSync(p).isDirectory());
  const copy = await prepareStagedView(request, tops, layersOf);
  const overlays: ViewMounts['overlays'][number][] = [];
  const binds: string[] = [];
  for (const d of copy ? [] : tops) {
    const upper = join(stage, 'upper', d);
    const work = join(stage, 'work', d);
    const view = join(stage, 'view', d);
    for (const dir of [upper, work, view]) mkdirSync(dir, { recursive: true });
    const lowers = layersOf(d);
    if (lowers.length === 0) {
      const empty = join(stage, 'empty', d);
      mkdirSync(empty, { recursive: true });
      lowers.push(empty);
    }
    // overlayfs option syntax: ':' separates layers, ',' options; escape both.
    const esc = (p: string) => p.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/,/g, '\\,');
    overlays.push({
      options: `lowerdir=${lowers.map(esc).join(':')},upperdir=${esc(upper)},workdir=${esc(work)}${overlayExtraOptions(rootless)}`,
      target: view,
    });
    binds.push('--bind', view, `/${d}`);
  }
  for (const l of links) binds.push('--symlink', readlinkSync(`/${l}`), `/${l}`);
  if (rootless && !copy) {
    const reads = request.commands.flatMap((c) => c.reads ?? []);
    coverForeignParents(join(stage, 'upper'), [node, ...request.ancestors], tops, (await packageFiles(reads)).flat());
  }
  if (copy) binds.unshift(...copy.bwrapArgs);
  const mounts: ViewMounts = { rootless, overlays, ...(copy ? { readOnlyBinds: copy.readOnlyBinds } : {}) };
  const forceDebian = await rpmSupportsForceDebian();

  const warnings: string[] = [];
  const upper = join(stage, 'upper');
  const attribute = opaqueAttribute(rootless);
  // The helper walks the upper layer for opaque directories after the last command, in its process.
  let reportedOpaque: Set<string> | undefined;
  try {
    for (const [index, command] of request.commands.entries()) {
      const reads = [...new Set((command.reads ?? []).map((f) => dirname(f)))];
      const inView = (f: string) => `${READS_IN_VIEW}/${reads.indexOf(dirname(f))}/${basename(f)}`;
      const args = command.args.map((a) => (command.reads?.includes(a) ? inView(a) : a));
      const bwrap = [
        DEFAULT_BWRAP,
        ...binds,
        '--dev',
        '/dev',
        '--proc',
        '/proc',
        '--tmpfs',
        '/tmp',
        '--tmpfs',
        '/run',
        ...reads.flatMap((r, i) => ['--ro-bind', r, `${READS_IN_VIEW}/${i}`]),
        // Anything written outside the layered directories would be lost with the sandbox: refuse it.
        '--remount-ro',
        '/',
        '--unshare-all',
        '--die-with-parent',
        '--setenv',
        'PATH',
        '/usr/sbin:/usr/bin:/sbin:/bin',
        // Scriptlets learn which node they install into, as redpak's installer sets it.
        '--setenv',
        'NODE_PATH',
        node,
        '--setenv',
        'AFMPKG_REDPAKID',
        node,
        '--',
        ...viewRpmArgv(args, forceDebian),
      ];
      const last = index === request.commands.length - 1;
      const staged = stagedCommand(mounts, bwrap, undefined, last && !copy ? { upper, attribute } : undefined);
      const result = await spawnStreaming(staged, request.onLine, request.signal);
      warnings.push(
        ...result.stderr
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !/^(warning: )?Unable to change root directory/.test(l)),
      );
      if (request.signal?.aborted) throw abortError(node, request.signal);
      const failure = helperFailure(result.status, result.stderr);
      if (failure) {
        throw new RedpakError('tool-failed', `the staged view of node ${node} failed: ${failure}`, {
          hint: 'nothing was changed in the node',
        });
      }
      if (result.status !== 0) {
        throw new RedpakError(
          'tool-failed',
          `rpm failed in node ${node} (${result.signal ? `killed by ${result.signal}` : `status ${result.status}`}): ${result.stderr.trim() || result.stdout.trim()}`,
          {
            hint: 'nothing was changed in the node; fix the cause above and retry',
          },
        );
      }
      if (staged.reportsOpaque) reportedOpaque = opaqueList(result.opaque);
    }
    if (request.signal?.aborted) throw abortError(node, request.signal);
    const removed = copy ? collectCopyChanges(copy, upper) : [];
    for (const [rel, text] of Object.entries(request.extraFiles ?? {})) {
      mkdirSync(dirname(join(upper, rel)), { recursive: true });
      writeFileSync(join(upper, rel), text);
    }
    // The copy-up view has no opaque directories: what a replaced directory no longer holds is listed as removed.
    const opaque = copy
      ? new Set<string>()
      : (reportedOpaque ?? opaqueDirs(upper, attribute, { asMappedRoot: rootless }));
    const generation = request.generation
      ? recordGeneration(node, upper, request.generation, opaque, join(stage, STAGED_GENERATION), removed)
      : undefined;
    const prune = [...new Set(request.pruneEmptyTopDirs ?? [])].filter(
      (d) => tops.includes(d) && !DEFAULT_TOP_DIRS.includes(d) && isPlainRelative(d) && !d.includes('/'),
    );
    const journal: MergeJournal = {
      format: JOURNAL_FORMAT,
      opaque: [...opaque].sort(),
      ...(generation ? { generation: generation.id } : {}),
      ...(prune.length ? { pruneEmpty: prune } : {}),
      ...(removed.length ? { removed } : {}),
      // With no opaque directory the phase that moves the node's aside has nothing to do: done.
      displaced: opaque.size === 0,
    };
    // The commit point: from here on the merge is completed, by this run or by the next command.
    syncFilesystem(stage);
    armKillHook();
    writeJournal(stage, journal);
    committed = true;
    try {
      finishMerge(stage, node, journal);
    } catch (error) {
      throw new RedpakError(
        'io',
        `the merge of a committed transaction into node ${node} stopped: ${(error as Error).message}`,
        {
          hint: `fix the cause, then run any redwrap-dnf command on the node (e.g. redwrap-dnf --redpath ${node} list --installed): it completes the merge from ${join(stage, JOURNAL)}`,
        },
      );
    }
    return { warnings };
  } finally {
    liveStages.delete(stage);
    if (!committed) removeStage(stage);
  }
}

/** The copy-up view (src/pkg/view-copyup.ts) when the request asks for it, else undefined (overlays). */
async function prepareStagedView(
  request: StagedRun,
  tops: readonly string[],
  layersOf: (top: string) => string[],
): Promise<CopyView | undefined> {
  if (request.staging !== 'copy') return undefined;
  const reads = request.commands.flatMap((c) => c.reads ?? []);
  return prepareCopyView({
    stage: join(request.node, STAGE_DIR),
    node: request.node,
    layers: tops.map((top) => ({ top, lowers: layersOf(top).filter((l) => l !== join(request.node, top)) })),
    payload: viewPaths((await packageFiles(reads)).flat()),
  });
}

/** Payload paths as they land in the view, node-relative: the host's merged-/usr links followed ('/lib/x' → 'usr/lib/x'). */
function viewPaths(files: readonly string[]): string[] {
  const links = usrLinkTargets();
  return files.map((path) => {
    const [, top = '', ...rest] = path.split('/');
    return [...(links[top] ? links[top].replace(/^\//, '').split('/') : [top]), ...rest].join('/');
  });
}

/**
 * In a user namespace only the user's own uid is mapped: overlayfs cannot copy up a directory of
 * root's (the host's /usr/lib, an ancestor's), whose owner has no id there, so rpm could not
 * create a file in it. Every parent directory of the payload paths that the node lacks is made
 * in the upper layer first, with the mode of the directory it covers (the topmost of `layers`,
 * node first, that has it): overlayfs merges it with the lower ones instead of copying up, and
 * the merge makes it a directory of the node, as a copy-up would have.
 */
function coverForeignParents(upper: string, layers: readonly string[], tops: readonly string[], files: string[]): void {
  for (const rel of [...payloadParentDirs(viewPaths(files))].sort()) {
    if (!tops.includes(rel.split('/')[0] ?? '') || !isPlainRelative(rel)) continue;
    const covered = [...layers.map((l) => join(l, rel)), `/${rel}`]
      .map((p) => lstatOrUndefined(p))
      .find((st) => st !== undefined);
    if (layers[0] !== undefined && lstatOrUndefined(join(layers[0], rel))?.isDirectory()) continue;
    if (covered && !covered.isDirectory()) continue;
    const dest = join(upper, rel);
    mkdirSync(dest, { recursive: true });
    chmodSync(dest, covered ? covered.mode & 0o7777 : 0o755);
  }
}

/**
 * Removes a stage. overlayfs leaves each work directory's `work` subdirectory with mode 0 and
 * owned by the mounter, which stops an ordinary user from removing it: it is made accessible
 * first. Only for an ordinary user, who can chmod nothing but their own files: root needs no such
 * step, and a chmod as root could follow a link planted in the node between the check and the call.
 */
function removeStage(stage: string): void {
  if (runsRootless()) unlockCopy(stage);
  const work = join(stage, 'work');
  if (runsRootless() && lstatOrUndefined(work)?.isDirectory()) {
    for (const top of readdirSync(work)) {
      const inner = join(work, top, 'work');
      if (lstatOrUndefined(join(work, top))?.isDirectory() && lstatOrUndefined(inner)?.isDirectory()) {
        try {
          chmodSync(inner, 0o700);
        } catch {
          /* not ours: rmSync says so */
        }
      }
    }
  }
  rmSync(stage, { recursive: true, force: true });
}

function abortError(node: string, signal?: AbortSignal): RedpakError {
  const name = signal ? signalNameOf(signal) : undefined;
  return new InterruptedError(name, `interrupted${name ? ` by ${name}` : ''}: nothing was changed in node ${node}`);
}

interface Spawned {
  status: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the helper wrote on descriptor 3 (StagedCommand.reportsOpaque), else empty. */
  opaque: Buffer;
}

function spawnStreaming(
  { command, args, input, reportsOpaque }: StagedCommand,
  onLine?: (line: string) => void,
  signal?: AbortSignal,
): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new InterruptedError(signalNameOf(signal), 'interrupted before rpm ran: nothing was changed'));
      return;
    }
    // Own process group: a terminal's Ctrl-C reaches us, not rpm in the middle of a package.
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe', reportsOpaque ? 'pipe' : 'ignore'],
      detached: true,
    }) as ChildProcessByStdio<Writable, Readable, Readable>;
    const opaque: Buffer[] = [];
    (child.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (chunk: Buffer) => opaque.push(chunk));
    // stdin: the read-only binds, if any, then end of file. A child that fails before reading it
    // all closes the pipe: its status says why.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
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
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(
        new RedpakError('tool-missing', `cannot run ${command}: ${error.message}`, {
          hint: 'apt-get install util-linux bubblewrap',
        }),
      );
    });
    child.on('close', (status, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (pending.trim()) onLine?.(pending);
      resolve({ status: status ?? 128, signal: sig, stdout: out, stderr: err, opaque: Buffer.concat(opaque) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The merge: committed by a journal, each step idempotent, so that a run killed at any point is
// completed by the next command (docs/transactions.md).

/** In the stage: the journal whose presence means "committed: complete the merge". */
export const JOURNAL = MERGE_JOURNAL;
/** In the stage: the generation recorded for the transaction, moved into place by the merge. */
const STAGED_GENERATION = 'generation';
/** In the stage: where the merge puts the node's directories that opaque ones replace. */
const DISPLACED = 'displaced';
const JOURNAL_FORMAT = 'redpak-merge/1';

interface MergeJournal {
  format: typeof JOURNAL_FORMAT;
  /** Upper-relative directories overlayfs made opaque: they replace the node's. */
  opaque: string[];
  /** Id of the generation staged with the transaction. */
  generation?: number;
  /** The node's opaque-replaced directories are in the stage already (first phase done). */
  displaced: boolean;
  /** Top-level directories of the node to remove if the merge leaves them empty. */
  pruneEmpty?: string[];
  /** Node-relative paths to remove (copy-up staging, which has no whiteouts). */
  removed?: string[];
}

/** Stages of transactions running in this process: never taken for interrupted ones. */
const liveStages = new Set<string>();

/**
 * Test hook, read by the test suite only (test/pkg/merge-crash.test.ts): SIGKILL this process
 * after that many merge steps, to prove that a kill at any point is recovered.
 */
const KILL_HOOK = 'REDPAK_TEST_KILL_AFTER_MERGE_STEPS';
let stepsBeforeKill: number | undefined;
function mergeStep(): void {
  if (stepsBeforeKill === undefined) return;
  stepsBeforeKill -= 1;
  if (stepsBeforeKill <= 0) process.kill(process.pid, 'SIGKILL');
}

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Atomically (temp file, fsync, rename, fsync of the directory) writes the journal. */
function writeJournal(stage: string, journal: MergeJournal): void {
  writeFileAtomic(join(stage, JOURNAL), `${JSON.stringify(journal)}\n`, {
    mode: 0o600,
    durable: true,
    temp: join(stage, `${JOURNAL}.tmp`),
  });
  mergeStep();
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** A node-relative path the merge may use: relative, no '..', no empty or '.' component. */
function isPlainRelative(rel: string): boolean {
  return rel !== '' && !rel.startsWith('/') && rel.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

/** Every directory between `node` and `rel` is a real directory (never a symlink leading elsewhere). */
function realParents(node: string, rel: string): boolean {
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i += 1) {
    if (!lstatOrUndefined(join(node, ...parts.slice(0, i)))?.isDirectory()) return false;
  }
  return true;
}

/**
 * Reads a stage's journal. Trust: the stage lies in the node, which anything running in the node
 * (admin mode included) can write, so a planted journal is expected: it is checked for shape, its
 * paths must stay in the node, and completing it only moves the stage's entries into the node,
 * never through a symlink (see mergeTree).
 */
function readJournal(stage: string): MergeJournal | undefined {
  const file = join(stage, JOURNAL);
  const st = lstatOrUndefined(file);
  if (!st) return undefined;
  const bad = (why: string) =>
    new RedpakError(
      'io',
      `${file} is not a merge journal redpak wrote (${why}): the node's last transaction cannot be completed`,
      {
        hint: `inspect the node; if no transaction is running, remove ${join(stage)} and check the node with: redmanager check`,
      },
    );
  if (!st.isFile() || st.size > 1 << 20) throw bad('not a small regular file');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw bad('not JSON');
  }
  const j = parsed as Partial<MergeJournal>;
  if (j.format !== JOURNAL_FORMAT) throw bad('unknown format');
  if (!Array.isArray(j.opaque) || !j.opaque.every((r) => typeof r === 'string' && isPlainRelative(r)))
    throw bad('bad opaque directories');
  if (j.generation !== undefined && !(Number.isSafeInteger(j.generation) && j.generation > 0))
    throw bad('bad generation id');
  if (typeof j.displaced !== 'boolean') throw bad('bad phase');
  if (
    j.pruneEmpty !== undefined &&
    !(
      Array.isArray(j.pruneEmpty) &&
      j.pruneEmpty.every((d) => typeof d === 'string' && isPlainRelative(d) && !d.includes('/'))
    )
  )
    throw bad('bad directories to prune');
  if (
    j.removed !== undefined &&
    !(Array.isArray(j.removed) && j.removed.every((r) => typeof r === 'string' && isPlainRelative(r)))
  )
    throw bad('bad removed paths');
  return {
    format: JOURNAL_FORMAT,
    opaque: j.opaque,
    displaced: j.displaced,
    ...(j.generation !== undefined ? { generation: j.generation } : {}),
    ...(j.pruneEmpty ? { pruneEmpty: j.pruneEmpty } : {}),
    ...(j.removed ? { removed: j.removed } : {}),
  };
}

/**
 * Completes a committed merge. Every step can run again after a kill and reach the same end:
 * the generation and the displaced directories move only if still at their source, entries of
 * the upper layer leave it as they are moved, whiteouts delete what may already be gone, and
 * the phase that moves the node's opaque-replaced directories aside is recorded in the journal
 * before any new entry is merged. The rpm database goes last, then the journal, then the stage.
 */
function finishMerge(stage: string, node: string, journal: MergeJournal): void {
  const upper = join(stage, 'upper');
  if (journal.generation !== undefined) {
    const staged = join(stage, STAGED_GENERATION);
    if (lstatOrUndefined(staged)?.isDirectory()) {
      const dest = join(node, GENERATIONS_DIR, String(journal.generation));
      // Node content may have planted `.redpak` or `generations` as a link: never moved through.
      assertNoLinkBelow(node, dest);
      mkdirSync(dirname(dest), { recursive: true });
      rmSync(dest, { recursive: true, force: true });
      renameSync(staged, dest);
      mergeStep();
    }
  }
  if (!journal.displaced) {
    for (const rel of journal.opaque) {
      const from = join(node, rel);
      if (!realParents(node, rel) || !lstatOrUndefined(from)) continue;
      const to = join(stage, DISPLACED, rel);
      mkdirSync(dirname(to), { recursive: true });
      renameSync(from, to);
      mergeStep();
    }
    journal = { ...journal, displaced: true };
    writeJournal(stage, journal);
  }
  removePaths(node, journal.removed ?? []);
  if (lstatOrUndefined(upper)?.isDirectory()) mergeTree(upper, node);
  mergeDatabase(upper, node, journal.removed ?? []);
  for (const top of journal.pruneEmpty ?? []) {
    const dir = join(node, top);
    if (lstatOrUndefined(dir)?.isDirectory() && readdirSync(dir).length === 0) {
      rmSync(dir, { recursive: true, force: true });
      mergeStep();
    }
  }
  syncFilesystem(node);
  rmSync(join(stage, JOURNAL), { force: true });
  fsyncPath(stage, 'r');
  mergeStep();
  removeStage(stage);
  mergeStep();
}

/** Makes `dest` a real directory (replacing a file or a symlink there); true if it was made. */
function realDirectory(dest: string, mode: number): boolean {
  const st = lstatOrUndefined(dest);
  if (st?.isDirectory()) return false;
  if (st) rmSync(dest, { force: true });
  mkdirSync(dest, { mode: mode & 0o7777 });
  return true;
}

/**
 * Applies an overlay upper directory to the node, top-down: whiteouts delete, files and symlinks
 * replace (rename), directories merge. Every directory on the way is made a real directory of
 * the node first, so no entry is ever written through a symlink the node holds.
 */
function mergeTree(upper: string, node: string): void {
  const db = join(upper, RPM_DBPATH);
  // Root writes into any directory; an ordinary user only into those with owner write and search.
  // A package's 0555 directory, in the node or in the upper layer, is opened for the walk, and a
  // node directory opened so gets its mode back once its entries have moved (one made here, the
  // upper layer's: what rpm left). A kill meanwhile leaves it open to its owner only.
  const asUser = (process.getuid?.() ?? 0) !== 0;
  /** Opens `dir` for the walk; the mode to give it back, if it had to be opened. */
  const openDir = (dir: string): number | undefined => {
    const st = lstatSync(dir);
    if (!asUser || !st.isDirectory() || (st.mode & 0o300) === 0o300 || st.uid !== process.getuid?.()) return undefined;
    chmodSync(dir, (st.mode & 0o7777) | 0o300);
    return st.mode & 0o7777;
  };
  const walk = (rel: string) => {
    openDir(join(upper, rel));
    for (const name of readdirSync(join(upper, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const src = join(upper, r);
      if (src === db) continue;
      const dest = join(node, r);
      const st = lstatSync(src);
      if (st.isCharacterDevice() && st.rdev === 0) {
        if (asUser) openOwnDirs(dest);
        rmSync(dest, { recursive: true, force: true });
        mergeStep();
        continue;
      }
      if (st.isDirectory()) {
        // The layer roots (usr, opt, …) exist in the upper layer because we made them: an empty
        // one means nothing was written there.
        if (rel === '' && !lstatOrUndefined(dest) && readdirSync(src).length === 0) continue;
        const made = realDirectory(dest, asUser ? st.mode | 0o300 : st.mode);
        if (made) mergeStep();
        const closed = openDir(dest);
        walk(r);
        if (made && asUser) chmodSync(dest, st.mode & 0o7777);
        else if (closed !== undefined) chmodSync(dest, closed);
        continue;
      }
      if (lstatOrUndefined(dest)?.isDirectory()) {
        if (asUser) openOwnDirs(dest);
        rmSync(dest, { recursive: true, force: true });
      }
      renameSync(src, dest);
      mergeStep();
    }
  };
  walk('');
}

/** The rpm database's directory, node-relative. */
const DB_REL = RPM_DBPATH.slice(1);

/**
 * The removals of a copy-up stage, but the database's (mergeDatabase's): each only where every
 * directory on the way is a real directory of the node, so nothing is ever removed through a link.
 */
function removePaths(node: string, removed: readonly string[]): void {
  for (const rel of removed) {
    if (rel === DB_REL || rel.startsWith(`${DB_REL}/`) || DB_REL.startsWith(`${rel}/`)) continue;
    if (!realParents(node, rel) || !lstatOrUndefined(join(node, rel))) continue;
    const path = join(node, rel);
    if (!runsRootless()) {
      rmSync(path, { recursive: true, force: true });
      mergeStep();
      continue;
    }
    // An ordinary user: the directory removed and the one it is removed from may lack owner write.
    const parent = lstatSync(dirname(path));
    const reopen = (parent.mode & 0o300) !== 0o300 && parent.uid === process.getuid?.();
    if (reopen) chmodSync(dirname(path), (parent.mode & 0o7777) | 0o300);
    openOwnDirs(path);
    rmSync(path, { recursive: true, force: true });
    if (reopen) chmodSync(dirname(path), parent.mode & 0o7777);
    mergeStep();
  }
}

/**
 * The rpm database, after every file: the database never lists a package whose files are not in
 * place. Its files the transaction removed (whiteouts, or `removed` for a copy-up stage) go in the same order.
 */
function mergeDatabase(upper: string, node: string, removed: readonly string[]): void {
  const db = join(upper, RPM_DBPATH);
  const gone = removed.filter((r) => dirname(r) === DB_REL).map((r) => r.slice(DB_REL.length + 1));
  const staged = lstatOrUndefined(db)?.isDirectory() ? readdirSync(db) : [];
  if (staged.length === 0 && gone.length === 0) return;
  const dest = join(node, RPM_DBPATH);
  // var and var/lib were made real directories by mergeTree (the upper layer holds them).
  if (!realParents(node, RPM_DBPATH.slice(1)))
    throw new RedpakError('io', `${dirname(dest)} is not a directory of node ${node}`);
  realDirectory(dest, 0o755);
  // The main file last: -wal/-shm first would pair an old database with a new journal for an instant only.
  const files = [...staged, ...gone].sort((a, b) => Number(a === 'rpmdb.sqlite') - Number(b === 'rpmdb.sqlite'));
  for (const f of files) {
    const st = gone.includes(f) ? undefined : lstatSync(join(db, f));
    if (!st || (st.isCharacterDevice() && st.rdev === 0)) rmSync(join(dest, f), { recursive: true, force: true });
    else {
      if (lstatOrUndefined(join(dest, f))?.isDirectory()) rmSync(join(dest, f), { recursive: true, force: true });
      renameSync(join(db, f), join(dest, f));
    }
    mergeStep();
  }
}

// ---------------------------------------------------------------------------------------------
// Recovery

/** True when the node holds a committed merge that is not finished: it must not be used as is. */
export function pendingMerge(nodeHostPath: string): boolean {
  const stage = join(nodeHostPath, STAGE_DIR);
  return (
    !liveStages.has(stage) &&
    Boolean(lstatOrUndefined(stage)?.isDirectory()) &&
    lstatOrUndefined(join(stage, JOURNAL)) !== undefined
  );
}

/** True when the node holds a stage this process is not running: an interrupted transaction's. */
export function interruptedStage(nodeHostPath: string): boolean {
  const stage = join(nodeHostPath, STAGE_DIR);
  return !liveStages.has(stage) && lstatOrUndefined(stage) !== undefined;
}

/**
 * Completes (journal present) or drops (no journal: it was never committed) the stage an
 * interrupted transaction left in the node. Call under the family lock.
 */
export function recoverStage(node: string): RecoveryNotice | undefined {
  const stage = join(node, STAGE_DIR);
  if (liveStages.has(stage)) return undefined;
  const st = lstatOrUndefined(stage);
  if (!st) return undefined;
  const journal = st.isDirectory() ? readJournal(stage) : undefined;
  if (!journal) {
    // Not a directory (planted), or a transaction killed before its commit: the node is as it was.
    removeStage(stage);
    return {
      node,
      outcome: 'dropped',
      message: `node ${node}: an interrupted package transaction had not been committed; its staged changes were dropped and the node is as it was`,
    };
  }
  stepsBeforeKill = undefined;
  finishMerge(stage, node, journal);
  return {
    node,
    outcome: 'completed',
    message: `node ${node}: an interrupted package transaction had been committed; its merge was completed and the node has its new state`,
  };
}

/** Arms the test hook for the merge of this process's next transaction. */
function armKillHook(): void {
  const value = process.env[KILL_HOOK];
  stepsBeforeKill = value && /^\d+$/.test(value) ? Number(value) : undefined;
}
