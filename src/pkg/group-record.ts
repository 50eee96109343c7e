/**
 * The groups installed in a node, as dnf tracks them: NODE/var/lib/dnf/redpak-groups.json names
 * each group and the packages its installation brought into the node. `group remove` takes those
 * away (unless the user asked for one by name since, or another group has it). The file is
 * written by redwrap-dnf only, in the same staged transaction as the packages (or atomically when
 * a group changes without packages), but it lives in the node, which its sandbox can write in
 * admin mode: it is read as untrusted. Every id and name must be plain (a name becomes a solver
 * job: a glob such as `*` would erase every package), and anything else is an error naming the file.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import { GROUP_ID, PACKAGE_NAME } from './comps.js';
import type { TransactionStep } from './solver.js';

/** Relative to the node. */
export const GROUPS_FILE = 'var/lib/dnf/redpak-groups.json';
const RECORD_VERSION = 1;

export interface InstalledGroup {
  id: string;
  name: string;
  /** ISO date of the installation. */
  time: string;
  /** Packages the installation brought into the node, which `group remove` may take away. */
  packages: string[];
  /** Every package the group asked for: another group's removal leaves these in place. */
  members: string[];
}

export type GroupRecord = Record<string, InstalledGroup>;

/** What a transaction does to the record besides following its steps. */
export type GroupChange =
  | { kind: 'install'; groups: { id: string; name: string; members: string[] }[] }
  | { kind: 'remove'; ids: string[] };

function garbled(file: string, why: string): RedpakError {
  return new RedpakError('io', `${file}: not a group record written by redwrap-dnf: ${why}`, {
    hint: 'move the file away: the node then has no installed group (its packages stay, as asked for)',
  });
}

export function readGroupRecord(nodeRoot: string): GroupRecord {
  const file = join(nodeRoot, GROUPS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw garbled(file, (error as Error).message);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw garbled(file, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw garbled(file, 'not an object');
  const { version, groups } = data as { version?: unknown; groups?: unknown };
  if (version !== RECORD_VERSION) throw garbled(file, `version ${JSON.stringify(version)}, expected ${RECORD_VERSION}`);
  if (typeof groups !== 'object' || groups === null || Array.isArray(groups))
    throw garbled(file, '"groups" is not an object');
  const record: GroupRecord = {};
  for (const [key, value] of Object.entries(groups)) {
    if (!GROUP_ID.test(key)) throw garbled(file, `group id ${JSON.stringify(key)} is not a plain id`);
    const g = value as Partial<InstalledGroup> | null;
    if (typeof g !== 'object' || g === null || g.id !== key) throw garbled(file, `group ${key} has no matching id`);
    if (typeof g.name !== 'string' || typeof g.time !== 'string')
      throw garbled(file, `group ${key} lacks name or time`);
    for (const list of ['packages', 'members'] as const) {
      const names: unknown = g[list];
      if (!Array.isArray(names) || !names.every((p) => typeof p === 'string' && PACKAGE_NAME.test(p)))
        throw garbled(file, `the ${list} of group ${key} are not a list of package names`);
    }
    record[key] = {
      id: key,
      name: g.name,
      time: g.time,
      packages: [...(g.packages ?? [])],
      members: [...(g.members ?? [])],
    };
  }
  return record;
}

export function groupRecordText(record: GroupRecord): string {
  return `${JSON.stringify({ version: RECORD_VERSION, groups: record }, null, 2)}\n`;
}

/** Outside a transaction (a group installed or removed without package changes): replaced in one rename. */
export function writeGroupRecord(nodeRoot: string, record: GroupRecord): void {
  const file = join(nodeRoot, GROUPS_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, groupRecordText(record), { temp: `${file}.${process.pid}` });
}

/**
 * The record after a transaction. A package erased (not replaced by one of its name) leaves every
 * group; one that obsoletes another takes its place; a package the user named in a plain install
 * is theirs from then on (never removed with a group). A group installed records which of its
 * packages the transaction brought in or found as mere dependencies (`adopted`); a group removed
 * leaves the record.
 */
export function nextGroupRecord(
  before: GroupRecord,
  steps: readonly TransactionStep[],
  options: { change?: GroupChange; userNamed?: readonly string[]; adopted?: readonly string[]; time?: string } = {},
): GroupRecord {
  const after: GroupRecord = {};
  const incoming = new Set(steps.filter((s) => s.action !== 'erase').map((s) => s.name));
  const erased = new Set(steps.filter((s) => s.action === 'erase' && !incoming.has(s.name)).map((s) => s.name));
  const renamed = new Map<string, string>();
  for (const s of steps)
    for (const r of s.replaces ?? []) {
      const old = r.replace(/-[^-]+-[^-]+$/, '');
      if (old !== s.name) renamed.set(old, s.name);
    }
  const mine = new Set(options.userNamed ?? []);
  for (const [id, g] of Object.entries(before)) {
    if (options.change?.kind === 'remove' && options.change.ids.includes(id)) continue;
    const packages = g.packages.map((p) => renamed.get(p) ?? p).filter((p) => !erased.has(p) && !mine.has(p));
    after[id] = { ...g, packages: [...new Set(packages)] };
  }
  if (options.change?.kind === 'install') {
    const brought = new Set([
      ...steps.filter((s) => s.action === 'install' || s.action === 'obsolete').map((s) => s.name),
      ...(options.adopted ?? []),
    ]);
    for (const g of options.change.groups) {
      const kept = after[g.id]?.packages ?? [];
      after[g.id] = {
        id: g.id,
        name: g.name,
        time: options.time ?? new Date().toISOString(),
        packages: [...new Set([...kept, ...g.members.filter((p) => brought.has(p))])].sort(),
        members: [...new Set(g.members)].sort(),
      };
    }
  }
  return after;
}
