/**
 * SMACK labels (`smack:` in a config, docs/configuration.md "SMACK"). As redpak does, the label
 * is set on the process that then execs bwrap (writing it to /proc/self/attr/current, which needs
 * CAP_MAC_ADMIN), so bwrap and the program run with it. On a kernel without SMACK the launch is
 * refused before anything runs: running without the label asked for would be a silent loss of
 * isolation.
 *
 * Who writes what is read: the label comes from the merged config (a node's config, which an
 * admin-mode sandbox of that node may write: it can only choose its own label, checked here to be
 * one the kernel parses); whether the kernel has SMACK comes from smackfs, written by the kernel.
 * `root` lets tests put a fake smackfs and /proc/self/attr in a temporary directory (this
 * project's CI kernel has no SMACK).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError, type SourcePosition } from '../errors.js';
import { CGROUP_ENTRY_FAILED } from './cgroups-apply.js';

/** Where the kernel's smackfs is mounted when SMACK is the active LSM. */
const SMACKFS = 'sys/fs/smackfs';
/** The file a process writes its own new label to (redpak's choice, kept). */
const ATTR_CURRENT = 'proc/self/attr/current';
/** The kernel's SMACK_LABEL_LEN. */
const LABEL_MAX = 255;

/** Whether the kernel under `root` has SMACK (its smackfs is there). */
export function hasSmack(root = '/'): boolean {
  return existsSync(join(root, SMACKFS, 'load2'));
}

/** Why the kernel would refuse `label`, or undefined: 1..255 bytes, no blank, no /"'\, not starting with -. */
function badLabel(label: string): string | undefined {
  if (label.length === 0 || Buffer.byteLength(label) > LABEL_MAX) return `a label has 1 to ${LABEL_MAX} bytes`;
  if (label.startsWith('-')) return 'a label cannot start with "-"';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s/"'\\\u0000-\u001f\u007f]/.test(label) || /[^\u0020-\u007e]/.test(label))
    return 'a label is printable ASCII without blanks, /, ", \' or \\';
  return undefined;
}

/** Throws, naming the `smack` key and its node, when the label cannot be set on this host. */
export function assertSmackLabel(label: string, origin: { alias: string; at?: SourcePosition }, root = '/'): void {
  const where = { ...(origin.at ? { at: origin.at } : {}) };
  const bad = badLabel(label);
  if (bad) throw new RedpakError('launch', `smack: label "${label}" of ${origin.alias} is invalid: ${bad}`, where);
  if (!hasSmack(root)) {
    throw new RedpakError(
      'launch',
      `smack: label "${label}" of ${origin.alias} cannot be applied: this kernel has no SMACK (no ${join(root, SMACKFS)})`,
      { ...where, hint: 'remove smack from the config, or launch the node on a kernel with SMACK enabled' },
    );
  }
}

/**
 * Wraps a command so that it runs with the label: a shell writes it to its own
 * /proc/self/attr/current, then execs the command (which keeps it). Exit status 125 when the
 * label cannot be set.
 */
export function smackEntryArgv(label: string, argv: string[], root = '/'): string[] {
  const script = `printf %s "$1" > "$2" || { echo "redpak: cannot set the SMACK label $1" >&2; exit ${CGROUP_ENTRY_FAILED}; }; shift 2; exec "$@"`;
  return ['/bin/sh', '-c', script, 'redpak-smack', label, join(root, ATTR_CURRENT), ...argv];
}
