/**
 * How a package transaction's staged view is mounted and its opaque directories are read
 * (docs/transactions.md, "How the view is mounted"). This is the one place that chooses:
 *
 *   - the C helper `dist/bin/redpak-stage` (src/launcher/redpak-stage.c), where the build
 *     compiled it (scripts/build-launcher.sh): one process makes the namespaces and the mounts,
 *     then becomes bwrap; another walks the upper layer for opaque directories;
 *   - otherwise util-linux `unshare`, `sh -c` with mount(8), and Python (the no-compiler build),
 *     which do the same steps in the same order.
 *
 * Both take the same overlay options, built by the caller (the escaping of ':' ',' '\' is in
 * src/pkg/view.ts), and the same read-only binds, given on stdin so that the list never passes
 * through the node, which anything running there can write.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { RedpakError } from '../errors.js';
import { packagePath } from '../package-root.js';
import { hostTool } from '../system/host-tools.js';
import { solverPython } from './solver.js';

/** The helper, built by scripts/build-launcher.sh next to the fast launcher. */
const STAGE_HELPER = packagePath('dist/bin/redpak-stage');

/**
 * Test hook (docs/transactions.md): `REDPAK_TEST_NO_STAGE_HELPER=1` runs the fallback (unshare,
 * sh, mount(8), Python) although the helper was built, so that the no-compiler build is tested
 * on this one. It can only turn the helper off, never name another program.
 */
const NO_HELPER_HOOK = 'REDPAK_TEST_NO_STAGE_HELPER';

/** The helper's path where it was built and the test hook does not turn it off; else null (the fallback). */
export function stageHelper(env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  if (env[NO_HELPER_HOOK] === '1') return null;
  return existsSync(STAGE_HELPER) ? STAGE_HELPER : null;
}

export interface ViewMounts {
  /** An ordinary user: a user namespace first, root in it mapped onto the user. */
  rootless: boolean;
  /** Overlays mounted in this order: overlayfs options (escaped already) and the mount point. */
  overlays: readonly { options: string; target: string }[];
  /** Copy-up staging: sources bound read-only onto targets, after the overlays. */
  readOnlyBinds?: readonly (readonly [string, string])[];
}

export interface StagedCommand {
  command: string;
  args: string[];
  /** What to write on the command's stdin (the read-only binds), if anything. */
  input?: string;
  /** The helper writes the upper layer's opaque directories to descriptor 3 once `program` succeeded (as `opaqueDirs` reads them). */
  reportsOpaque?: boolean;
}

/** An upper layer whose opaque directories are wanted once the program succeeded (`opaqueDirs`'s arguments). */
export interface OpaqueWalk {
  upper: string;
  attribute: string;
}

/** unshare's options before the mount namespace's: root mapped onto the user, for an ordinary user. */
function unshareUserArgs(rootless: boolean): string[] {
  return rootless ? ['--user', '--map-root-user'] : [];
}

/**
 * Mounts each source read-only onto its target (mount(2) through ctypes: one process for every
 * bind), as the helper's --ro-binds-stdin does, from the same SOURCE\0TARGET\0 list on stdin. A
 * bind keeps its source's locked flags (noexec, the atime ones), which a remount in a user
 * namespace must repeat; nosuid and nodev are added. A source gone since the view was composed is
 * gone from the view too, as overlayfs would show it: its empty target is removed, not a failure.
 */
const BIND_READ_ONLY = [
  'import ctypes, os, sys',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096',
  'KEPT = ((8, MS_NOEXEC), (1024, 1024), (2048, 2048), (4096, 1 << 21))',
  'def mount(src, dst, flags):',
  '    if libc.mount(src, dst, None, flags, None) != 0:',
  '        errno = ctypes.get_errno()',
  '        if src is not None and not os.path.lexists(src):',
  '            return False',
  '        sys.exit("cannot bind %s read-only on %s: %s" % (src or dst, dst, os.strerror(errno)))',
  '    return True',
  "data = sys.stdin.buffer.read().split(b'\\0')[:-1]",
  'for src, dst in zip(data[0::2], data[1::2]):',
  '    if not mount(src, dst, MS_BIND):',
  '        (os.rmdir if os.path.isdir(dst) else os.unlink)(dst)',
  '        continue',
  '    flag = os.statvfs(dst).f_flag',
  '    kept = sum(ms for st, ms in KEPT if flag & st)',
  '    mount(None, dst, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)',
].join('\n');

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The command that makes a private mount namespace (and, for an ordinary user, a user namespace
 * first), mounts `mounts` in it, then runs `program` (absolute path first) in their place. With
 * `opaqueAfter`, the helper also walks that upper layer once `program` succeeded, in the same
 * process (`reportsOpaque`); the fallback does not, and the caller runs `opaqueDirs`.
 */
export function stagedCommand(
  mounts: ViewMounts,
  program: readonly string[],
  helper: string | null = stageHelper(),
  opaqueAfter?: OpaqueWalk,
): StagedCommand {
  const binds = mounts.readOnlyBinds ?? [];
  const input = binds.length > 0 ? binds.map(([source, target]) => `${source}\0${target}\0`).join('') : undefined;
  if (helper) {
    return {
      command: helper,
      args: [
        'run',
        ...(mounts.rootless ? ['--map-root-user'] : []),
        ...mounts.overlays.flatMap((o) => ['--overlay', o.options, o.target]),
        ...(input !== undefined ? ['--ro-binds-stdin'] : []),
        ...(opaqueAfter ? ['--opaque-after', opaqueAfter.upper, opaqueAfter.attribute] : []),
        '--',
        ...program,
      ],
      ...(input !== undefined ? { input } : {}),
      ...(opaqueAfter ? { reportsOpaque: true } : {}),
    };
  }
  const script = [
    'set -e',
    ...mounts.overlays.map((o) => `mount -t overlay overlay -o ${q(o.options)} ${q(o.target)}`),
    ...(input !== undefined ? [`${[solverPython(), '-S', '-E', '-c', BIND_READ_ONLY].map(q).join(' ')}`] : []),
    `exec ${program.map(q).join(' ')}${input !== undefined ? ' </dev/null' : ''}`,
  ].join('\n');
  return {
    command: hostTool('unshare'),
    args: [...unshareUserArgs(mounts.rootless), '--mount', '--propagation', 'private', 'sh', '-c', script],
    ...(input !== undefined ? { input } : {}),
  };
}

/** The helper's exit statuses before the program runs (src/launcher/redpak-stage.c). */
const HELPER_STATUSES = new Set([2, 125, 126, 127]);

/**
 * The helper's own failure, when a staged command ended so: one `redpak-stage: …` line on stderr
 * and one of its statuses (nothing of bwrap or rpm ran). Undefined for anything else, which is
 * the program's.
 */
export function helperFailure(status: number | null, stderr: string): string | undefined {
  const text = stderr.trim();
  return status !== null && HELPER_STATUSES.has(status) && /^redpak-stage: [^\n]*$/.test(text) ? text : undefined;
}

/**
 * The directories of an overlay upper layer that overlayfs marked opaque (`attribute`=y:
 * trusted.overlay.opaque as root, user.overlay.opaque in a user namespace): what the lower layers
 * had there is hidden, not merged. Not walked below them, never through a link. `asMappedRoot`
 * (an ordinary user) reads as root mapped onto the user, who may then open every directory of
 * their own whatever its mode (the helper only; Python skips what it cannot open).
 */
export function opaqueDirs(
  upper: string,
  attribute: string,
  { asMappedRoot = false, helper = stageHelper() }: { asMappedRoot?: boolean; helper?: string | null } = {},
): Set<string> {
  const result = helper
    ? spawnSync(helper, ['opaque', ...(asMappedRoot ? ['--map-root-user'] : []), upper, attribute], {
        encoding: 'buffer',
        maxBuffer: 1 << 28,
      })
    : spawnSync(solverPython(), ['-S', '-E', '-c', OPAQUE_WALK, upper, attribute], {
        encoding: 'buffer',
        maxBuffer: 1 << 28,
      });
  if (result.status !== 0) {
    throw new RedpakError(
      'tool-failed',
      `cannot read the overlay attributes of ${upper}: ${result.error?.message ?? result.stderr.toString('utf8').trim()}`,
      {
        hint: helper
          ? 'nothing was changed in the node'
          : 'nothing was changed in the node; python3 is needed (see REDPAK_PYTHON)',
      },
    );
  }
  return opaqueList(result.stdout);
}

/** The helper's list of opaque directories: NUL-separated, since a name (written by rpm or a scriptlet) may hold a newline, never a NUL. */
export function opaqueList(output: Buffer): Set<string> {
  return new Set(
    output
      .toString('utf8')
      .split('\0')
      .filter((l) => l !== ''),
  );
}

/** The fallback of `redpak-stage opaque`: Node has no xattr call; Python's os.getxattr does it. */
const OPAQUE_WALK = [
  'import os, sys',
  'top = sys.argv[1]',
  'for d, dirs, files in os.walk(top):',
  '    for name in list(dirs):',
  '        path = os.path.join(d, name)',
  '        try:',
  '            opaque = os.getxattr(path, sys.argv[2], follow_symlinks=False) == b"y"',
  '        except OSError:',
  '            opaque = False',
  '        if opaque:',
  '            dirs.remove(name)',
  '            sys.stdout.buffer.write(os.fsencode(os.path.relpath(path, top)) + b"\\0")',
].join('\n');
