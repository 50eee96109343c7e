/**
 * The staged view without overlayfs: copy-up staging (docs/transactions.md, "Copy-up staging").
 * Used where the kernel refuses an overlay in a user namespace (src/pkg/rootless.ts decides,
 * `chooseStaging`); src/pkg/view.ts runs rpm and commits the same way for both views.
 *
 *   - The node's layered directories (usr, etc, var, …) are copied into `STAGE/copy`
 *     (`cp -a --reflink=auto`: a reflink where the filesystem has them), and each is bound
 *     read-write at its place in rpm's sandbox: rpm and its scriptlets change the copy only.
 *   - The lower layers of the overlay view (the ancestors and, for usr and etc, the host) are
 *     made visible inside the copy as overlayfs would show them: where the node has no entry,
 *     a link is reproduced, and a file or directory is bound read-only onto an empty entry made
 *     in the copy; where the node and a lower layer both have a directory, or several lower
 *     layers do (overlayfs merges them), or the packages' payload goes into it, the directory
 *     is made in the copy (with the lower one's mode, as a copy-up would) and composed entry by
 *     entry below. The read-only binds are mounted in the transaction's private mount namespace
 *     by the process that then becomes bwrap (src/pkg/stage-runner.ts: bwrap's own `--ro-bind`
 *     costs about 2 ms each, and a directory like the host's /usr/bin takes hundreds), before
 *     bwrap binds the copy's top directories with everything mounted in them.
 *   - Every entry of the copy is then recorded (inode and change time: a write, a chmod, a
 *     rename or a replacement changes one or the other, and no process can set a change time
 *     back). After rpm, what changed or is new moves into `STAGE/upper`, in the shape of an
 *     overlay upper layer, and what the node had that the copy no longer has is listed as
 *     removed; src/pkg/view.ts commits both with the journal and merges them as for an overlay.
 *     What the view itself made (the bound entries, reproduced links, composed directories) is
 *     never merged unless rpm or a scriptlet changed it.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { hostTool } from '../system/host-tools.js';

export interface CopyViewRequest {
  /** The stage directory (`NODE/.redpak-stage`), made empty by the caller. */
  stage: string;
  /** Host path of the node. */
  node: string;
  /** The layered top-level directories, and for each its lower layers (host paths, topmost first). */
  layers: { top: string; lowers: string[] }[];
  /** Node-relative payload paths of the packages being installed (merged-/usr links resolved). */
  payload: readonly string[];
}

interface Recorded {
  ino: bigint;
  ctime: bigint;
  /** Copied from the node, or made by the view (a bound entry, a reproduced link, a composed directory). */
  fromNode: boolean;
}

export interface CopyView {
  /** `STAGE/copy`: the root of the view's writable tree. */
  root: string;
  /** bwrap arguments composing the view: the copy's top directories, with what is mounted in them. */
  bwrapArgs: string[];
  /** The lower entries bound read-only into the copy before bwrap runs: (source, target in the copy). */
  readOnlyBinds: [string, string][];
  /** Every entry of the copy before rpm ran, by node-relative path. */
  recorded: Map<string, Recorded>;
}

/** The copy's place in the stage. */
export const COPY_DIR = 'copy';
/**
 * Directories that must be writable in the view: every parent of a payload path below a top
 * directory (rpm creates its files there, so it must be a directory of the copy, not a
 * read-only lower one). Node-relative, without the top directory itself.
 */
export function payloadParentDirs(payload: readonly string[]): Set<string> {
  const dirs = new Set<string>();
  for (const path of payload) {
    const parts = path.split('/').filter((p) => p !== '');
    for (let i = 2; i < parts.length; i += 1) dirs.add(parts.slice(0, i).join('/'));
  }
  return dirs;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Copies the node's layered directories into the stage and composes the view over them. */
export function prepareCopyView(request: CopyViewRequest): CopyView {
  const root = join(request.stage, COPY_DIR);
  mkdirSync(root, { recursive: true });
  const writable = payloadParentDirs(request.payload);
  const payload = new Set(request.payload.map((p) => p.replace(/^\/+/, '')));
  const made = new Set<string>();
  const bwrapArgs: string[] = [];
  const readOnlyBinds: [string, string][] = [];

  /**
   * Makes the lower layers' entries of `rel` visible in the copy's directory `rel`, as overlayfs
   * merges them: the copy's entry hides the lower ones, a directory merges with the directories
   * right below it, anything else hides what is below.
   */
  const compose = (rel: string, lowers: readonly string[]) => {
    const here = join(root, rel);
    // The node's directory may lack owner write (a package's 0555): writable while entries are made.
    const mode = lstatSync(here).mode & 0o7777;
    if ((mode & 0o200) === 0) chmodSync(here, mode | 0o200);
    composeIn(rel, here, lowers);
    if ((mode & 0o200) === 0) chmodSync(here, mode);
  };
  const composeIn = (rel: string, here: string, lowers: readonly string[]) => {
    const own = new Set(readdirSync(here));
    const below = new Map<string, { path: string; st: Stats }[]>();
    for (const lower of lowers) {
      let names: string[];
      try {
        names = readdirSync(lower);
      } catch {
        continue; // a directory the caller may not read: overlayfs could not list it either
      }
      for (const name of names) {
        const path = join(lower, name);
        const st = lstatOrUndefined(path);
        if (!st) continue;
        const layers = below.get(name) ?? [];
        layers.push({ path, st });
        below.set(name, layers);
      }
    }
    for (const [name, layers] of [...below].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const r = `${rel}/${name}`;
      const [top] = layers;
      if (!top) continue;
      const dirsBelow = [];
      for (const layer of layers) {
        if (!layer.st.isDirectory()) break;
        dirsBelow.push(layer.path);
      }
      if (own.has(name)) {
        if (lstatSync(join(here, name)).isDirectory() && dirsBelow.length > 0) compose(r, dirsBelow);
        continue;
      }
      // rpm writes the file there: a lower one bound in its place could not be replaced.
      if (payload.has(r)) continue;
      const dest = join(here, name);
      if (top.st.isSymbolicLink()) {
        symlinkSync(readlinkSync(top.path), dest);
        made.add(r);
      } else if (top.st.isDirectory() && (writable.has(r) || dirsBelow.length > 1)) {
        mkdirSync(dest);
        chmodSync(dest, top.st.mode & 0o7777);
        made.add(r);
        compose(r, dirsBelow);
      } else {
        if (top.st.isDirectory()) mkdirSync(dest);
        else writeFileSync(dest, '', { mode: 0o644 });
        made.add(r);
        readOnlyBinds.push([top.path, dest]);
      }
    }
  };

  for (const { top, lowers } of request.layers) {
    const source = join(request.node, top);
    const dest = join(root, top);
    // A real directory only: a link planted in the node is not followed (the merge replaces it).
    if (lstatOrUndefined(source)?.isDirectory()) {
      const copied = spawnSync(hostTool('cp'), ['-a', '--reflink=auto', '--', source, dest], { encoding: 'utf8' });
      if (copied.status !== 0) {
        throw new RedpakError(
          'io',
          `cannot copy ${source} into the stage of node ${request.node}: ${copied.error?.message ?? copied.stderr.trim()}`,
          { hint: 'nothing was changed in the node; free some space on its filesystem and retry' },
        );
      }
    } else {
      mkdirSync(dest);
      const shown = lowers.find((l) => existsSync(l));
      chmodSync(dest, shown ? statSync(shown).mode & 0o7777 : 0o755);
      made.add(top);
    }
    bwrapArgs.push('--bind', dest, `/${top}`);
    compose(top, lowers);
  }

  const recorded = new Map<string, Recorded>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r), { bigint: true });
      recorded.set(r, { ino: st.ino, ctime: st.ctimeNs, fromNode: !made.has(r) });
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return { root, bwrapArgs, readOnlyBinds, recorded };
}

function changed(before: Recorded | undefined, st: BigIntStats): boolean {
  return !before || before.ino !== st.ino || before.ctime !== st.ctimeNs;
}

/**
 * After rpm: moves what changed or is new in the copy into `upper` (directories made with the
 * copy's mode, files and links renamed), in the shape of an overlay upper layer, and returns the
 * node-relative paths the node has and the copy no longer has (the outermost of each removed tree).
 */
export function collectCopyChanges(view: CopyView, upper: string): string[] {
  const { root, recorded } = view;
  const seen = new Set<string>();
  // Upper directories are made writable while entries move in (a package's directory may be
  // 0555), and get their mode once done.
  const modes = new Map<string, number>();
  // A directory's mode as it was when walked: moving entries out of it may need it writable.
  const recordedMode = new Map<string, bigint | number>();
  const upperDir = (rel: string) => {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i += 1) {
      const r = parts.slice(0, i).join('/');
      const dest = join(upper, r);
      if (lstatOrUndefined(dest)?.isDirectory()) continue;
      mkdirSync(dest, { mode: 0o700 });
      modes.set(r, Number(recordedMode.get(r) ?? lstatSync(join(root, r)).mode) & 0o7777);
    }
  };
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      seen.add(r);
      const st = lstatSync(join(root, r), { bigint: true });
      const isChanged = changed(recorded.get(r), st);
      if (st.isDirectory()) {
        recordedMode.set(r, st.mode);
        if (isChanged) upperDir(r);
        if ((st.mode & 0o300n) !== 0o300n) chmodSync(join(root, r), Number(st.mode & 0o7777n) | 0o700);
        walk(r);
        continue;
      }
      if (!isChanged) continue;
      if (rel) upperDir(rel);
      renameSync(join(root, r), join(upper, r));
    }
  };
  mkdirSync(upper, { recursive: true });
  walk('');
  for (const [r, mode] of [...modes].reverse()) chmodSync(join(upper, r), mode);
  const removed: string[] = [];
  for (const [r, before] of recorded) {
    if (!before.fromNode || seen.has(r)) continue;
    const parent = dirname(r);
    if (parent === '.' || seen.has(parent)) removed.push(r);
  }
  return removed.sort();
}

/**
 * Gives owner write and search to every directory below `dir` (and `dir`) that the caller owns,
 * found by lstat (never through a link), so that an ordinary user can empty it: a package's 0555
 * directory could not be. Root needs none of it.
 */
export function openOwnDirs(dir: string): void {
  const uid = process.getuid?.();
  const open = (path: string) => {
    const st = lstatOrUndefined(path);
    if (!st?.isDirectory() || st.uid !== uid) return;
    if ((st.mode & 0o700) !== 0o700) chmodSync(path, (st.mode & 0o7777) | 0o700);
    for (const name of readdirSync(path)) open(join(path, name));
  };
  open(dir);
}

/** Lets an ordinary user remove a copy-up stage: the copy holds the node's directories with their modes. */
export function unlockCopy(stage: string): void {
  openOwnDirs(join(stage, COPY_DIR));
}
