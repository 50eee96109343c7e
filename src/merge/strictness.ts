/**
 * No child loosens a parent. Pure: every security-relevant definition of the family's files in,
 * a `merge-conflict` error out when a node's file is looser than what an ancestor set.
 *
 * Each setting has a strictness order (docs/configuration.md, "Strictness"). A definition in a
 * node's file is compared with every ancestor's definition of the same setting (not only the
 * parent's, so a middle node that says nothing does not reset the bound):
 * - a normal file is bounded by each ancestor's normal file;
 * - an admin file is bounded by each ancestor's admin-mode value: its admin file's definition,
 *   else its normal file's. A node's admin file may be looser than its own normal file (that is
 *   what admin mode is for) but never looser than an ancestor in admin mode.
 * An ancestor's admin file replacing a descendant's normal definition (the merge's order) is the
 * ancestor's own choice, not a loosening by the child.
 *
 * Trust: the family's config files are written by each node's owner; a child node's owner is not
 * trusted to loosen what an ancestor's owner set, which is what this module enforces.
 */
import { posix } from 'node:path';
import { formatLine, RedpakError } from '../errors.js';
import { expand, type ExpandContext } from '../config/expand.js';
import {
  PRIVATE_EXPORT_MODES,
  SHARE_KEYS,
  type ExportEntry,
  type ExportMode,
  type NodeConfig,
  type TriState,
} from '../config/types.js';
import type { Origin, ShareValue } from './types.js';
import { present } from '../present.js';

/** One file's value for one security setting. */
export interface Definition {
  /** The setting, lower-cased where the merge compares without case: `export /usr`, `share_net`, `capability cap_chown`, `umask`. */
  setting: string;
  /** What a message calls the setting: `export /usr`, `namespace share_net`, `capability CAP_CHOWN`, `umask`. */
  label: string;
  /** The value as a reader would write it (`Public`, `disabled`, `add`, `027`). */
  shown: string;
  /** What the order compares. */
  value: GuardedValue;
  origin: Origin;
  /** Whether it bounds descendants (an ancestor's private export does not reach them). */
  binds: boolean;
  /** Set when the value comes from `share_all` or a capability's `ALL` entry. */
  via?: string;
}

export type GuardedValue =
  | { kind: 'export'; mode: ExportMode }
  | { kind: 'share'; share: ShareValue }
  | { kind: 'capability'; add: boolean }
  | { kind: 'umask'; bits: number | undefined }
  | { kind: 'identity'; text: string }
  | { kind: 'cgroup-base'; path: string }
  | { kind: 'tri'; state: TriState }
  | { kind: 'flag'; on: boolean };

/**
 * Export modes by how much of the host the sandbox gets at the mount: 0 nothing (an empty
 * directory, a tmpfs, an mqueue, a lock file), 1 a read-only or derived view (read-only binds,
 * a command's output, a file descriptor's content, a symlink, /dev, /proc), 2 a writable bind.
 */
export const EXPORT_RANK: Record<ExportMode, number> = {
  Anonymous: 0,
  Tmpfs: 0,
  Mqueue: 0,
  Lock: 0,
  Restricted: 1,
  RestrictedFile: 1,
  PrivateRestricted: 1,
  Execfd: 1,
  Internal: 1,
  Symlink: 1,
  Devfs: 1,
  Procfs: 1,
  Public: 2,
  PublicFile: 2,
  Private: 2,
  PrivateFile: 2,
};

const SHARE_RANK: Record<ShareValue['type'], number> = { unset: 0, disabled: 0, join: 1, enabled: 2 };

/** A rank for showing the strictest definition (lower is stricter); undefined when there is no order. */
export function rankOf(value: GuardedValue): number | undefined {
  switch (value.kind) {
    case 'export':
      return EXPORT_RANK[value.mode];
    case 'share':
      return SHARE_RANK[value.share.type];
    case 'capability':
      return value.add ? 1 : 0;
    case 'umask':
      return value.bits === undefined ? undefined : 12 - popcount(value.bits);
    case 'identity':
    case 'cgroup-base':
      return undefined;
    case 'tri':
      return value.state === 'Enabled' ? 0 : 1;
    case 'flag':
      return value.on ? 1 : 0;
  }
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b; b >>= 1) n += b & 1;
  return n;
}

/** Why `child` is looser than `ancestor`, or undefined when it is not. */
export function loosening(child: GuardedValue, ancestor: GuardedValue, subject = 'it'): string | undefined {
  if (child.kind === 'export' && ancestor.kind === 'export') {
    return EXPORT_RANK[child.mode] > EXPORT_RANK[ancestor.mode] ? 'it gives more of the host at that mount' : undefined;
  }
  if (child.kind === 'share' && ancestor.kind === 'share') {
    const [c, a] = [child.share, ancestor.share];
    if (SHARE_RANK[c.type] > SHARE_RANK[a.type])
      return a.type === 'disabled'
        ? `the ancestor forbids sharing ${subject}`
        : `it shares more of ${subject} than the ancestor`;
    if (
      c.type === 'join' &&
      a.type === 'join' &&
      present(c.path, 'a joined namespace').toLowerCase() !== present(a.path, 'a joined namespace').toLowerCase()
    )
      return `it joins another namespace than the ancestor for ${subject}`;
    return undefined;
  }
  if (child.kind === 'capability' && ancestor.kind === 'capability') {
    return child.add && !ancestor.add ? 'a child cannot add a capability its ancestor drops' : undefined;
  }
  if (child.kind === 'umask' && ancestor.kind === 'umask') {
    if (child.bits === undefined || ancestor.bits === undefined) return undefined; // not octal: refused at launch
    return (child.bits & ancestor.bits) !== ancestor.bits ? 'it clears permission bits the ancestor masks' : undefined;
  }
  if (child.kind === 'identity' && ancestor.kind === 'identity') {
    return child.text !== ancestor.text ? 'a child cannot run as another identity than its ancestor set' : undefined;
  }
  if (child.kind === 'cgroup-base' && ancestor.kind === 'cgroup-base') {
    const below =
      child.path === ancestor.path || child.path.startsWith(`${ancestor.path === '/' ? '' : ancestor.path}/`);
    return below ? undefined : "a child's cgroup base must be its ancestor's or below it (written in the same form)";
  }
  if (child.kind === 'tri' && ancestor.kind === 'tri') {
    return ancestor.state === 'Enabled' && child.state === 'Disabled' ? 'the ancestor enables it' : undefined;
  }
  if (child.kind === 'flag' && ancestor.kind === 'flag') {
    return child.on && !ancestor.on ? 'the ancestor turns it off' : undefined;
  }
  return undefined;
}

/**
 * A mount as one key: `//` collapsed, `.` and `..` resolved lexically, no trailing `/` (but
 * `/` itself), so that `/nodes/x/`, `/nodes//x` and `/nodes/./x` are the mount `/nodes/x`.
 */
export function normaliseMount(mount: string): string {
  if (mount === '') return mount;
  const normal = posix.normalize(mount);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

export interface ConfigVisit {
  node: { path: string; alias: string };
  depth: number;
  config: NodeConfig;
}

/** An export with its mount expanded (in the defining node) and normalised. */
export interface ExpandedExport {
  entry: ExportEntry & { expandedMount: string };
  origin: Origin;
}

export const SCALAR_GUARDS = [
  'umask',
  'set-user',
  'set-group',
  'cgrouproot',
  'die-with-parent',
  'new-session',
  'inherit-env',
  'map-root-user',
] as const;

function originAt(visit: ConfigVisit, key: string): Origin {
  const at = visit.config.positions[key] ?? { file: visit.config.file, line: 0, col: 0 };
  return { node: visit.node.path, alias: visit.node.alias, kind: visit.config.kind, depth: visit.depth, at };
}

/**
 * Every security definition of every visited file. `exports` are the merge's expanded exports
 * (so that commands in mounts run once); scalars are expanded in the leaf's context, as the
 * merge does.
 */
export function securityDefinitions(
  visits: ConfigVisit[],
  exports: ExpandedExport[],
  leafContext: ExpandContext,
): Definition[] {
  const defs: Definition[] = [];
  for (const { entry, origin } of exports) {
    defs.push({
      setting: `export ${entry.expandedMount.toLowerCase()}`,
      label: `export ${entry.expandedMount}`,
      shown: entry.mode,
      value: { kind: 'export', mode: entry.mode },
      origin,
      binds: !PRIVATE_EXPORT_MODES.has(entry.mode),
    });
  }
  const capNames = new Set<string>(['all']);
  for (const v of visits) for (const c of v.config.config.capabilities) capNames.add(c.cap.toLowerCase());
  for (const visit of visits) {
    const c = visit.config.config;
    // Namespaces: the key's own value, else share_all's (which does not cover time).
    const all = parseShare(c.share_all);
    for (const key of SHARE_KEYS) {
      if (key === 'all') continue;
      const own = parseShare(c[`share_${key}`]);
      const fromAll = own.type === 'unset' && key !== 'time' && all.type !== 'unset';
      const share = fromAll ? all : own;
      if (share.type === 'unset') continue;
      defs.push({
        setting: `share_${key}`,
        label: `namespace share_${key}`,
        shown: share.type === 'join' ? present(share.path, 'a joined namespace') : share.type,
        value: { kind: 'share', share },
        origin: originAt(visit, fromAll ? 'config.share_all' : `config.share_${key}`),
        binds: true,
        ...(fromAll ? { via: 'share_all' } : {}),
      });
    }
    // Capabilities: the entry of that name, else the file's ALL entry.
    const caps = new Map(c.capabilities.map((e) => [e.cap.toLowerCase(), e]));
    for (const name of capNames) {
      const entry = caps.get(name) ?? caps.get('all');
      if (!entry) continue;
      defs.push({
        setting: `capability ${name}`,
        label: `capability ${entry.cap.toLowerCase() === name ? entry.cap : name}`,
        shown: entry.add ? 'add' : 'drop',
        value: { kind: 'capability', add: entry.add !== 0 },
        origin: { ...originAt(visit, 'config.capabilities'), at: entry.at },
        binds: true,
        ...(entry.cap.toLowerCase() !== name ? { via: `${entry.cap}: ${entry.add}` } : {}),
      });
    }
    for (const key of SCALAR_GUARDS) {
      const written = c[key];
      const position = `config.${key}`;
      let value: GuardedValue | undefined;
      let shown = String(written);
      if (key === 'umask' || key === 'set-user' || key === 'set-group' || key === 'cgrouproot') {
        if (written === undefined) continue;
        const text = expand(String(written), leafContext);
        shown = text;
        value =
          key === 'umask'
            ? { kind: 'umask', bits: /^[0-7]{1,4}$/.test(text) ? Number.parseInt(text, 8) : undefined }
            : key === 'cgrouproot'
              ? { kind: 'cgroup-base', path: normaliseMount(text) }
              : { kind: 'identity', text };
      } else if (key === 'die-with-parent' || key === 'new-session') {
        if (c[key] === 'Unset') continue;
        value = { kind: 'tri', state: c[key] };
      } else {
        // Booleans default to off: only a value written in the file counts.
        if (!visit.config.positions[position]) continue;
        value = { kind: 'flag', on: Boolean(c[key]) };
      }
      defs.push({ setting: key, label: key, shown, value, origin: originAt(visit, position), binds: true });
    }
  }
  return defs;
}

/** A `share_*` value as written: unset, enabled, disabled, or a namespace file to join. */
export function parseShare(written: string | undefined): ShareValue {
  if (written === undefined) return { type: 'unset' };
  const lower = written.toLowerCase();
  if (lower === 'unset') return { type: 'unset' };
  if (lower === 'enabled' || lower === 'disabled') return { type: lower };
  return { type: 'join', path: written };
}

/**
 * The definition that bounds `def` at the ancestor depth `depth`, among the definitions of its
 * setting: the ancestor's normal one for a normal file; for an admin file, the ancestor's admin
 * one, else its normal one.
 */
function boundAt(sameSetting: Definition[], def: Definition, depth: number): Definition | undefined {
  const at = (kind: 'normal' | 'admin') =>
    sameSetting.find((d) => d.binds && d.origin.depth === depth && d.origin.kind === kind);
  return def.origin.kind === 'normal' ? at('normal') : (at('admin') ?? at('normal'));
}

export function describeOrigin(origin: Origin): string {
  return `${origin.alias} (${origin.node})${origin.kind === 'admin' ? ' (admin)' : ''}`;
}

export function where(origin: Origin): string {
  return formatLine(origin.at);
}

function written(def: Definition): string {
  return `${def.label}: ${def.shown}${def.via ? ` (from ${def.via})` : ''}`;
}

/** The first loosening of the family, leaf's files first, nearest ancestor first; or undefined. */
export function findLoosening(
  defs: Definition[],
): { child: Definition; ancestor: Definition; why: string } | undefined {
  const bySetting = new Map<string, Definition[]>();
  for (const d of defs) {
    const list = bySetting.get(d.setting);
    if (list) list.push(d);
    else bySetting.set(d.setting, [d]);
  }
  for (const child of defs) {
    const sameSetting = present(bySetting.get(child.setting), `the definitions of ${child.setting}`);
    const maxDepth = Math.max(...sameSetting.map((d) => d.origin.depth));
    for (let depth = child.origin.depth + 1; depth <= maxDepth; depth += 1) {
      const ancestor = boundAt(sameSetting, child, depth);
      const subject = child.setting.startsWith('share_')
        ? `the ${child.setting.slice('share_'.length)} namespace`
        : undefined;
      const why = ancestor && loosening(child.value, ancestor.value, subject);
      if (ancestor && why) return { child, ancestor, why };
    }
  }
  return undefined;
}

/** Throws the merge conflict of the first loosening, naming both nodes and both files. */
export function assertNoLoosening(defs: Definition[]): void {
  const found = findLoosening(defs);
  if (!found) return;
  const { child, ancestor, why } = found;
  throw new RedpakError(
    'merge-conflict',
    `${describeOrigin(child.origin)} loosens its ancestor ${describeOrigin(ancestor.origin)}: ${written(child)} at ${where(child.origin)} against ${written(ancestor)} at ${where(ancestor.origin)}; ${why}`,
    {
      at: child.origin.at,
      hint: `a child cannot loosen what an ancestor sets: remove or tighten it in ${child.origin.at.file}`,
    },
  );
}

/**
 * Among each node's value of one setting in this mode (its admin file's, else its normal file's),
 * the strictest; root-most on a tie (the node that imposed it). Undefined when the setting has no
 * order (set-user, set-group) or nobody defines it.
 */
export function strictestOf(defs: Definition[], setting: string): Definition | undefined {
  const mine = defs.filter((d) => d.setting === setting && (d.binds || d.origin.depth === 0));
  const perNode = mine.filter(
    (d) =>
      d.origin.kind === 'admin' || !mine.some((o) => o.origin.depth === d.origin.depth && o.origin.kind === 'admin'),
  );
  let best: Definition | undefined;
  for (const d of perNode) {
    const rank = rankOf(d.value);
    if (rank === undefined) return undefined;
    if (!best) {
      best = d;
      continue;
    }
    const bestRank = present(rankOf(best.value), 'the rank of the strictest so far');
    if (rank < bestRank || (rank === bestRank && d.origin.depth > best.origin.depth)) best = d;
  }
  return best;
}
