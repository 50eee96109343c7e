/**
 * The merge of a family's configuration files into one effective configuration
 * (docs/configuration.md, "Merge across the family"). Pure: a loaded family and the host facts in, a MergedConfig out.
 *
 * Files are visited leaf-admin, leaf-normal, parent-admin, parent-normal, …, root-normal (admin
 * files only in admin mode). Unless a rule says otherwise the first definition met wins, so an
 * admin definition beats a normal one and, within one kind, the node closest to the leaf wins.
 * Every definition that loses is kept as an override of the winner, with its origin.
 */
import { RedpakError } from '../errors.js';
import { appendPathList, expand, type ExpandContext, type HostFacts, type NodeFacts } from '../config/expand.js';
import { configKeysMerged } from '../config/keys.js';
import {
  PRIVATE_EXPORT_MODES,
  SHARE_KEYS,
  type CgroupsConfig,
  type ConfigTags,
  type NodeConfig,
  type ShareKey,
  type TriState,
} from '../config/types.js';
import type { Family, RedNode } from '../node/types.js';
import {
  assertNoLoosening,
  describeOrigin,
  normaliseMount,
  parseShare,
  securityDefinitions,
  where,
  type Definition,
  type ExpandedExport,
} from './strictness.js';
import type {
  Merged,
  MergedCapability,
  MergedConfig,
  MergedEnviron,
  MergedExport,
  MergedPathList,
  MergedScalars,
  MergedShare,
  MergeWarning,
  NodeCgroups,
  Origin,
  ShareValue,
} from './types.js';
import { present } from '../present.js';

interface Visit {
  node: RedNode;
  depth: number;
  config: NodeConfig;
}

export function nodeFacts(node: RedNode): NodeFacts {
  const h = node.normal.headers;
  return {
    alias: h.alias,
    path: node.path,
    ...(h.name !== undefined ? { name: h.name } : {}),
    ...(h.info !== undefined ? { info: h.info } : {}),
  };
}

/** The order in which redpak meets the family's files. */
export function visitOrder(family: Family): Visit[] {
  const visits: Visit[] = [];
  family.nodes.forEach((node, depth) => {
    if (family.admin && node.admin) visits.push({ node, depth, config: node.admin });
    visits.push({ node, depth, config: node.normal });
  });
  return visits;
}

function originOf(visit: Visit, key?: string): Origin {
  const at = (key && visit.config.positions[key]) || { file: visit.config.file, line: 0, col: 0 };
  return { node: visit.node.path, alias: visit.node.alias, kind: visit.config.kind, depth: visit.depth, at };
}

/** `ALIAS (path)` or `ALIAS (path) (admin)`, as messages name a node's file. */
export { describeOrigin, parseShare };

export interface MergeOptions {
  host: HostFacts;
}

export function mergeFamily(family: Family, options: MergeOptions): MergedConfig {
  const visits = visitOrder(family);
  const leaf = family.nodes[0];
  const leafFacts = nodeFacts(leaf);
  const contextFor = (visit: Visit, commands: boolean): ExpandContext => ({
    host: options.host,
    node: nodeFacts(visit.node),
    leaf: leafFacts,
    commands,
  });
  const leafContext: ExpandContext = { host: options.host, node: leafFacts, leaf: leafFacts, commands: true };
  const warnings: MergeWarning[] = [];
  const exports = expandedExports(visits, contextFor);
  // No child loosens a parent: checked on the files before anything is merged.
  assertNoLoosening(securityDefinitions(visits, exports, leafContext));

  return {
    leaf: leafFacts,
    admin: family.admin,
    family: family.nodes.map((n) => ({
      path: n.path,
      alias: n.alias,
      state: n.status.state,
      files: [n.normal.file, ...(n.admin ? [n.admin.file] : [])],
    })),
    headers: leaf.normal.headers,
    scalars: mergeScalars(visits, leafContext),
    ...optionalList('path', mergePathList(visits, 'path', contextFor)),
    ...optionalList('ldpath', mergePathList(visits, 'ldpath', contextFor)),
    shares: mergeShares(visits),
    capabilities: mergeCapabilities(visits, warnings),
    exports: mergeExports(exports, warnings),
    environ: mergeEnviron(visits, warnings),
    cgroups: nodeCgroups(family),
    seccomp: visits
      .flatMap((v) => {
        const filter = v.config.seccomp;
        return filter
          ? [{ node: v.node.path, alias: v.node.alias, kind: v.config.kind, filter, origin: originOf(v, 'seccomp') }]
          : [];
      })
      .reverse(),
    warnings,
  };
}

/**
 * Every security definition of the family's files in this mode, as the merge checks them
 * (`redmanager explain` shows the strictest of each). Expands the export mounts again.
 */
export function familySecurityDefinitions(family: Family, options: MergeOptions): Definition[] {
  const visits = visitOrder(family);
  const leafFacts = nodeFacts(family.nodes[0]);
  const contextFor = (visit: Visit, commands: boolean): ExpandContext => ({
    host: options.host,
    node: nodeFacts(visit.node),
    leaf: leafFacts,
    commands,
  });
  const leafContext: ExpandContext = { host: options.host, node: leafFacts, leaf: leafFacts, commands: true };
  return securityDefinitions(visits, expandedExports(visits, contextFor), leafContext);
}

function optionalList<K extends 'path' | 'ldpath'>(
  key: K,
  list: MergedPathList | undefined,
): Partial<Record<K, MergedPathList>> {
  return list ? ({ [key]: list } as Record<K, MergedPathList>) : {};
}

// ---------------------------------------------------------------------------------------------
// Scalars: all admin files leaf→root first, then all normal files leaf→root.

const STRING_KEYS = configKeysMerged('first');
const TRI_KEYS = configKeysMerged('tri-state');
/** "First non-zero wins": once true anywhere, a descendant cannot set it back (redpak's rule). */
const FLAG_KEYS = configKeysMerged('flag');

function mergeScalars(visits: Visit[], leafContext: ExpandContext): MergedScalars {
  const passes = [
    ...visits.filter((v) => v.config.kind === 'admin'),
    ...visits.filter((v) => v.config.kind === 'normal'),
  ];
  const out: Record<string, Merged<unknown>> = {};
  const take = (key: string, visit: Visit, written: unknown, isSet: boolean, value: () => unknown) => {
    if (!isSet) return;
    const origin = originOf(visit, `config.${key}`);
    const slot = out[key];
    if (slot) slot.overrides.push({ origin, value: written, reason: 'shadowed' });
    else out[key] = { value: value(), origin, overrides: [] };
  };
  for (const visit of passes) {
    const c: ConfigTags = visit.config.config;
    for (const key of STRING_KEYS) {
      const written = c[key];
      // Expanded in the leaf's context, not the defining node's: redpak's recorded behaviour.
      take(key, visit, written, written !== undefined, () => expand(present(written, key), leafContext));
    }
    for (const key of TRI_KEYS) take(key, visit, c[key], c[key] !== 'Unset', () => c[key] as TriState);
    for (const key of FLAG_KEYS) {
      const written = c[key];
      take(key, visit, written, Boolean(written), () => written);
    }
  }
  return out as MergedScalars;
}

// ---------------------------------------------------------------------------------------------
// path / ldpath: cumulative, child components first, duplicates dropped.

function mergePathList(
  visits: Visit[],
  key: 'path' | 'ldpath',
  contextFor: (visit: Visit, commands: boolean) => ExpandContext,
): MergedPathList | undefined {
  let value = '';
  const contributions: MergedPathList['contributions'] = [];
  for (const visit of visits) {
    const written = visit.config.config[key];
    if (written === undefined) continue;
    const expanded = expand(written, contextFor(visit, false));
    value = appendPathList(value, expanded);
    contributions.push({ origin: originOf(visit, `config.${key}`), written, expanded });
  }
  return contributions.length && value ? { value, contributions } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Namespace sharing.

function mergeShares(visits: Visit[]): Record<ShareKey, MergedShare> {
  const raw = {} as Record<ShareKey, MergedShare>;
  for (const key of SHARE_KEYS) {
    let slot: MergedShare = { type: 'unset', overrides: [] };
    const field = `share_${key}` as const;
    for (const visit of visits) {
      const incoming = parseShare(visit.config.config[field]);
      if (incoming.type === 'unset') continue;
      const origin = originOf(visit, `config.${field}`);
      if (!slot.origin || (origin.kind === 'admin' && slot.origin.kind === 'normal')) {
        const previous = slot.origin
          ? [{ origin: slot.origin, value: shareText(slot), reason: 'replaced' as const }]
          : [];
        slot = { ...incoming, origin, overrides: [...slot.overrides, ...previous] };
        continue;
      }
      // The value met first stands; a child looser than its ancestor was refused before (strictness.ts).
      slot.overrides.push({ origin, value: shareText(incoming), reason: 'shadowed' });
    }
    raw[key] = slot;
  }
  // user/cgroup/ipc/pid/net take share_all's value when unset; time does not.
  const shares = {} as Record<ShareKey, MergedShare>;
  for (const key of SHARE_KEYS) {
    const own = raw[key];
    shares[key] =
      own.type === 'unset' && key !== 'time' && key !== 'all' && raw.all.type !== 'unset'
        ? {
            type: raw.all.type,
            ...(raw.all.path ? { path: raw.all.path } : {}),
            ...(raw.all.origin ? { origin: raw.all.origin } : {}),
            fromShareAll: true,
            overrides: [],
          }
        : own;
  }
  return shares;
}

function shareText(value: ShareValue): string {
  return value.type === 'join' ? present(value.path, 'the namespace a join names') : value.type;
}

// ---------------------------------------------------------------------------------------------
// Keyed lists: environ, exports, capabilities.

interface KeyedRules<T> {
  what: string;
  key: (entry: T) => string;
  label: (entry: T) => string;
  differs: (a: T, b: T) => boolean;
  warnOf: (entry: T) => string | undefined;
}

/**
 * The merge matrix shared by environ, exports and capabilities. Returns the kept entries in
 * first-discovery order (closest to the leaf first).
 */
function mergeKeyed<T>(
  items: { entry: T; origin: Origin }[],
  rules: KeyedRules<T>,
  warnings: MergeWarning[],
): Merged<T>[] {
  const slots = new Map<string, Merged<T>>();
  const order: string[] = [];
  for (const { entry, origin } of items) {
    const key = rules.key(entry).toLowerCase();
    const slot = slots.get(key);
    if (!slot) {
      slots.set(key, { value: entry, origin, overrides: [] });
      order.push(key);
      continue;
    }
    const kept = slot.origin;
    const label = rules.label(entry);
    if (origin.depth === kept.depth) {
      if (origin.kind === kept.kind) {
        if (rules.differs(slot.value, entry)) {
          throw new RedpakError(
            'merge-conflict',
            `${rules.what} ${label} is defined twice and differently in ${describeOrigin(origin)} (${where(kept)} and ${where(origin)})`,
            { at: origin.at },
          );
        }
        warnings.push({
          message: `${rules.what} ${label} is defined twice in ${describeOrigin(origin)} (${where(kept)} and ${where(origin)})`,
          origin,
          overrides: kept,
          redpak: true,
        });
        slot.overrides.push({ origin, value: entry, reason: 'duplicate' });
        continue;
      }
      // Same node, the admin file was met first: it wins over the normal one.
      slot.overrides.push({ origin, value: entry, reason: 'shadowed' });
      warnings.push({
        message: `${rules.what} ${label} of ${describeOrigin(origin)} is overridden by its admin file (${where(kept)})`,
        origin: kept,
        overrides: origin,
        redpak: false,
      });
      continue;
    }
    // An ancestor's definition meets a descendant's.
    if (origin.kind === 'admin' && kept.kind === 'normal') {
      slots.set(key, {
        value: entry,
        origin,
        overrides: [...slot.overrides, { origin: kept, value: slot.value, reason: 'replaced' }],
      });
      warnings.push({
        message: `${rules.what} ${label} of ${describeOrigin(kept)} is replaced by the admin file of its ancestor ${describeOrigin(origin)}`,
        origin,
        overrides: kept,
        redpak: false,
      });
      continue;
    }
    slot.overrides.push({ origin, value: entry, reason: 'shadowed' });
    const warn = rules.warnOf(entry);
    warnings.push({
      message: `${rules.what} ${label} of ${describeOrigin(origin)} redefined in ${describeOrigin(kept)}${warn ? `: ${warn}` : ''}`,
      origin: kept,
      overrides: origin,
      redpak: Boolean(warn) && origin.kind === kept.kind,
    });
  }
  return order.map((key) => present(slots.get(key), `the merged ${key}`));
}

function mergeEnviron(visits: Visit[], warnings: MergeWarning[]): MergedEnviron[] {
  const items = visits.flatMap((visit) =>
    visit.config.environ.map((entry) => ({ entry, origin: { ...originOf(visit), at: entry.at } })),
  );
  const merged = mergeKeyed(
    items,
    {
      what: 'Variable',
      key: (e) => e.key,
      label: (e) => e.key,
      differs: (a, b) => a.mode !== b.mode || (a.value !== undefined && b.value !== undefined && a.value !== b.value),
      warnOf: (e) => e.warn,
    },
    warnings,
  );
  // redpak emits the list last-discovered first; kept for identical launch plans.
  return merged.reverse();
}

/**
 * Every export of every visited file, its mount expanded in the defining node's context (commands
 * included, run once here) and normalised: the merge key and the strictness key.
 */
function expandedExports(
  visits: Visit[],
  contextFor: (visit: Visit, commands: boolean) => ExpandContext,
): ExpandedExport[] {
  return visits.flatMap((visit) =>
    visit.config.exports.map((entry) => ({
      entry: { ...entry, expandedMount: normaliseMount(expand(entry.mount, contextFor(visit, true))) },
      origin: { ...originOf(visit), at: entry.at },
    })),
  );
}

function mergeExports(exports: ExpandedExport[], warnings: MergeWarning[]): MergedExport[] {
  // An ancestor's private exports stay its own.
  const items = exports.filter(({ entry, origin }) => origin.depth === 0 || !PRIVATE_EXPORT_MODES.has(entry.mode));
  const merged = mergeKeyed(
    items,
    {
      what: 'Export',
      key: (e) => e.expandedMount,
      label: (e) => e.expandedMount,
      differs: (a, b) => a.mode !== b.mode || (a.path !== undefined && b.path !== undefined && a.path !== b.path),
      warnOf: (e) => e.warn,
    },
    warnings,
  );
  return merged
    .map(({ value, origin, overrides }) => {
      const { expandedMount, ...entry } = value;
      return {
        value: entry,
        origin,
        mount: expandedMount,
        overrides: overrides.map((o) => ({ ...o, value: stripExpanded(o.value) })),
      };
    })
    .sort((a, b) => Buffer.compare(Buffer.from(a.mount), Buffer.from(b.mount)));
}

function stripExpanded(value: unknown): unknown {
  if (value && typeof value === 'object' && 'expandedMount' in value) {
    const { expandedMount: _dropped, ...rest } = value as Record<string, unknown>;
    return rest;
  }
  return value;
}

function mergeCapabilities(visits: Visit[], warnings: MergeWarning[]): MergedCapability[] {
  const items = visits.flatMap((visit) =>
    visit.config.config.capabilities.map((entry) => ({ entry, origin: { ...originOf(visit), at: entry.at } })),
  );
  const merged = mergeKeyed(
    items,
    {
      what: 'Capability',
      key: (e) => e.cap,
      label: (e) => e.cap,
      differs: (a, b) => (a.add !== 0) !== (b.add !== 0),
      warnOf: (e) => e.warn,
    },
    warnings,
  ).reverse();
  // `ALL` first, so that single capabilities are added or dropped after it.
  return [
    ...merged.filter((c) => c.value.cap.toLowerCase() === 'all'),
    ...merged.filter((c) => c.value.cap.toLowerCase() !== 'all'),
  ];
}

// ---------------------------------------------------------------------------------------------
// cgroups: applied per node, root-most first (docs/configuration.md, "Cgroups"); not merged into one value.

function nodeCgroups(family: Family): NodeCgroups[] {
  const out: NodeCgroups[] = [];
  family.nodes.forEach((node, depth) => {
    const files = [node.normal, ...(family.admin && node.admin ? [node.admin] : [])].filter((f) => f.config.cgroups);
    if (!files.length) return;
    const settings: CgroupsConfig = {};
    for (const file of files) {
      for (const [controller, values] of Object.entries(file.config.cgroups ?? {})) {
        const byController = settings as Record<string, Record<string, string>>;
        byController[controller] ??= {};
        const target = byController[controller];
        Object.assign(target, values);
      }
    }
    out.push({
      node: node.path,
      alias: node.alias,
      depth,
      settings,
      origins: files.map((f) => ({
        node: node.path,
        alias: node.alias,
        kind: f.kind,
        depth,
        at: f.positions['config.cgroups'] ?? { file: f.file, line: 0, col: 0 },
      })),
    });
  });
  return out.reverse();
}
