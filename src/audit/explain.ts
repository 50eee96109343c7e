/**
 * `redmanager explain --redpath P [--admin]`: every effective sandbox setting of a node (each
 * mount, namespace, capability, environment variable, cgroup limit, seccomp rule and scalar),
 * with the node, file and line that set it, the bwrap arguments it becomes, and every attempt of
 * another file that lost: overridden (by the merge's rules: closest to the leaf wins, an admin
 * file beats a normal one) or refused (a child loosening what an ancestor forbids, a flag an
 * ancestor turned on that a descendant turns off).
 *
 * Pure but for reading the family and probing export sources: built on mergeFamily and
 * compileLaunchPlan. Refusals stop the merge (redwrap refuses to launch); here each refused
 * definition is taken out and the merge is done again, so that all of them are listed and the
 * settings shown are those that hold once they are removed.
 */
import type { HostFacts } from '../config/expand.js';
import { SHARE_KEYS, type NodeConfig } from '../config/types.js';
import { configKeysMerged } from '../config/keys.js';
import { formatLine, RedpakError, type SourcePosition } from '../errors.js';
import { originJson, type OriginJson } from '../merge/origin-json.js';
import { familySecurityDefinitions, mergeFamily, visitOrder } from '../merge/merge.js';
import { SCALAR_GUARDS, strictestOf, type Definition } from '../merge/strictness.js';
import type { MergedConfig, Origin, Override } from '../merge/types.js';
import { Sysroot } from '../node/layout.js';
import { assertEnabled, loadFamily } from '../node/load.js';
import type { Family } from '../node/types.js';
import { inspectionHostFacts } from '../system/host-facts.js';
import { compileLaunchPlan, type LaunchPlan } from '../wrap/plan.js';
import { cgroupChain } from '../wrap/launch.js';
import { probeHost } from '../wrap/host-probe.js';
import { hostCgroupPlan } from '../wrap/cgroups-apply.js';
import { ignoredCgroupKeys } from '../wrap/cgroups.js';
import { assertSmackLabel } from '../wrap/smack.js';
import { bwrapOptions } from '../wrap/bwrap-options.js';
import { cpuList, memoryValue, pidsValue } from './cgroups-lint.js';
import { present } from '../present.js';

export type SettingKind = 'export' | 'namespace' | 'capability' | 'environ' | 'cgroup' | 'seccomp' | 'scalar' | 'path';

export interface ExplainOverride {
  from: OriginJson;
  value: unknown;
  /** The merge's reason: shadowed, replaced, duplicate. */
  reason: string;
  /** Where the losing file sits relative to the one that won. */
  by: 'descendant' | 'ancestor' | 'same node';
}

export interface ExplainSetting {
  kind: SettingKind;
  /** The mount, namespace, capability, variable, `mem.max`, syscall(s) or scalar key. */
  key: string;
  /** The effective value. */
  value: unknown;
  /** Where it was set; absent for a default nobody wrote (e.g. an isolated namespace). */
  from?: OriginJson;
  /** Further files that contribute (path, ldpath). */
  alsoFrom?: OriginJson[];
  /** What bwrap gets for it. */
  args?: string[];
  note?: string;
  /** For a security setting: the node value that is strictest in the family (in this mode), which no descendant may loosen. */
  strictest?: { from: OriginJson; value: string };
  overridden: ExplainOverride[];
}

export interface RefusedAttempt {
  kind: SettingKind;
  key: string;
  value: unknown;
  from: OriginJson;
  message: string;
}

export interface ExplainResult {
  node: string;
  alias: string;
  admin: boolean;
  family: { path: string; alias: string; state: string; files: string[] }[];
  /** False when redwrap would refuse to launch the node (refused attempts, or a plan error). */
  launchable: boolean;
  /** Why it cannot be launched, when it cannot. */
  errors: string[];
  settings: ExplainSetting[];
  refused: RefusedAttempt[];
}

export interface ExplainOptions {
  redpath: string;
  admin?: boolean;
  sysroot?: string;
  cwd?: string;
  host?: HostFacts;
}

const samePos = (a: SourcePosition, b: SourcePosition) => a.file === b.file && a.line === b.line && a.col === b.col;

/** Takes the definition written at `at` out of the family's files; what it was, or undefined. */
function takeOut(
  family: Family,
  at: SourcePosition,
): { kind: SettingKind; key: string; value: unknown; origin: Origin } | undefined {
  for (const [depth, node] of family.nodes.entries()) {
    for (const config of [node.normal, node.admin].filter(
      (c): c is NodeConfig => c !== undefined && c.file === at.file,
    )) {
      const origin = (pos: SourcePosition): Origin => ({
        node: node.path,
        alias: node.alias,
        kind: config.kind,
        depth,
        at: pos,
      });
      const lists = [
        ['export', config.exports, (e: { mount: string }) => e.mount],
        ['environ', config.environ, (e: { key: string }) => e.key],
        ['capability', config.config.capabilities, (e: { cap: string }) => e.cap],
      ] as const;
      for (const [kind, list, keyOf] of lists) {
        const index = (list as { at: SourcePosition }[]).findIndex((e) => samePos(e.at, at));
        if (index >= 0) {
          const [entry] = (list as { at: SourcePosition }[]).splice(index, 1);
          const { at: _at, ...value } = entry as { at: SourcePosition } & Record<string, unknown>;
          return { kind, key: (keyOf as (e: unknown) => string)(entry), value, origin: origin(at) };
        }
      }
      for (const key of SCALAR_GUARDS) {
        const pos = config.positions[`config.${key}`];
        if (!pos || !samePos(pos, at)) continue;
        const value = config.config[key];
        const c = config.config as unknown as Record<string, unknown>;
        if (key === 'die-with-parent' || key === 'new-session') c[key] = 'Unset';
        else if (key === 'inherit-env') c[key] = false;
        else if (key === 'map-root-user') c[key] = 0;
        else delete c[key];
        delete config.positions[`config.${key}`];
        return { kind: 'scalar', key, value, origin: origin(at) };
      }
      for (const share of SHARE_KEYS) {
        const field = `share_${share}` as const;
        const pos = config.positions[`config.${field}`];
        if (config.config[field] !== undefined && pos && samePos(pos, at)) {
          const value = config.config[field];
          delete config.config[field];
          return { kind: 'namespace', key: share, value, origin: origin(at) };
        }
      }
    }
  }
  return undefined;
}

function direction(override: Override, kept: Origin): ExplainOverride['by'] {
  return override.origin.depth < kept.depth
    ? 'descendant'
    : override.origin.depth > kept.depth
      ? 'ancestor'
      : 'same node';
}

function overridesOf(overrides: Override[], kept: Origin): ExplainOverride[] {
  return overrides.map((o) => {
    const value =
      o.value && typeof o.value === 'object' && 'at' in o.value
        ? (({ at: _at, ...rest }) => rest)(o.value as Record<string, unknown>)
        : o.value;
    return { from: originJson(o.origin), value, reason: o.reason, by: direction(o, kept) };
  });
}

const FLAG_KEYS = configKeysMerged('flag');

export function explain(options: ExplainOptions): ExplainResult {
  const sysroot = Sysroot.open(options.sysroot);
  const loaded = loadFamily(options.redpath, { sysroot, admin: options.admin ?? false, cwd: options.cwd });
  assertEnabled(loaded);
  const host = options.host ?? inspectionHostFacts(); // explaining never runs a config's $(...)
  const family = structuredClone(loaded);
  const refused: RefusedAttempt[] = [];
  const errors: string[] = [];
  let merged: MergedConfig | undefined;
  for (let attempt = 0; !merged; attempt += 1) {
    try {
      merged = mergeFamily(family, { host });
    } catch (error) {
      if (!(error instanceof RedpakError) || error.code !== 'merge-conflict' || !error.at || attempt > 1000)
        throw error;
      const taken = takeOut(family, error.at);
      if (!taken) throw error;
      refused.push({
        kind: taken.kind,
        key: taken.key,
        value: taken.value,
        from: originJson(taken.origin),
        message: error.message,
      });
      errors.push(error.message);
    }
  }

  // Flags: once a file turns one on, a file met later cannot turn it off; the merge drops those silently.
  const visits = visitOrder(family);
  const passes = [
    ...visits.filter((v) => v.config.kind === 'admin'),
    ...visits.filter((v) => v.config.kind === 'normal'),
  ];
  for (const key of FLAG_KEYS) {
    const kept = merged.scalars[key];
    if (!kept) continue;
    const winner = passes.findIndex((v) => v.config.file === kept.origin.at.file);
    passes.forEach((v, i) => {
      const pos = v.config.positions[`config.${key}`];
      if (!pos || v.config.config[key]) return;
      const from = originJson({ node: v.node.path, alias: v.node.alias, kind: v.config.kind, depth: v.depth, at: pos });
      if (i < winner) {
        refused.push({
          kind: 'scalar',
          key,
          value: v.config.config[key],
          from,
          message: `${key}: ${v.node.alias} turns it off, but ${kept.origin.alias} turns it on (${formatLine(kept.origin.at)}) and once on it stays on`,
        });
      } else {
        kept.overrides.push({
          origin: { node: v.node.path, alias: v.node.alias, kind: v.config.kind, depth: v.depth, at: pos },
          value: v.config.config[key],
          reason: 'shadowed',
        });
      }
    });
  }

  let plan: LaunchPlan | undefined;
  try {
    plan = compileLaunchPlan(family, merged, { host, probe: probeHost(sysroot) });
  } catch (error) {
    if (!(error instanceof RedpakError)) throw error;
    errors.push(error.message);
  }
  // What the launch refuses on this host: the same functions as the launch.
  const smack = merged.scalars.smack;
  const hostChecks = [
    () => smack && assertSmackLabel(smack.value, { alias: smack.origin.alias, at: smack.origin.at }),
    () =>
      merged.cgroups.length &&
      hostCgroupPlan(cgroupChain(family, merged), { cgrouproot: merged.scalars.cgrouproot?.value }),
  ];
  for (const hostCheck of hostChecks) {
    try {
      hostCheck();
    } catch (error) {
      if (!(error instanceof RedpakError)) throw error;
      errors.push(error.message);
    }
  }
  const argsOf = (what: string): string[] | undefined => {
    if (!plan) return undefined;
    const index = plan.provenance.findIndex((p) => p.what === what);
    if (index < 0) return undefined;
    const end = plan.provenance[index + 1]?.arg ?? plan.args.length;
    const args = plan.args
      .slice(plan.provenance[index].arg, end)
      .map((a) => (typeof a === 'string' ? a : `<output of: ${a.execfd}>`));
    // Arguments nobody wrote (default namespaces) follow without provenance: keep this group's options only.
    return bwrapOptions(args)
      .slice(0, what === 'hostname' ? 2 : 1)
      .flat();
  };

  const settings: ExplainSetting[] = [];
  for (const e of merged.exports) {
    const { at: _at, ...value } = e.value;
    const skipped = plan?.skipped.find((s) => s.mount === e.mount);
    const args = argsOf(`export ${e.mount}`);
    const created = args && args.length === 3 && plan?.mkdirs.includes(args[1]);
    settings.push({
      kind: 'export',
      key: e.mount,
      value,
      from: originJson(e.origin),
      ...(args ? { args } : {}),
      ...(skipped
        ? { note: `not mounted: ${skipped.reason}` }
        : created
          ? { note: `source ${args[1]} does not exist: redwrap creates it (--strict skips the mount)` }
          : {}),
      overridden: overridesOf(e.overrides, e.origin),
    });
  }
  for (const key of SHARE_KEYS) {
    if (key === 'all') continue;
    const share = merged.shares[key];
    const unset = key === 'time' ? 'shared (default)' : 'isolated (default)';
    const value =
      share.type === 'join'
        ? `join ${share.path}`
        : share.type === 'enabled'
          ? 'shared'
          : share.type === 'disabled'
            ? 'isolated'
            : unset;
    settings.push({
      kind: 'namespace',
      key,
      value,
      ...(share.origin ? { from: originJson(share.origin) } : {}),
      ...(argsOf(`share_${key}`) ? { args: argsOf(`share_${key}`) } : {}),
      ...(share.fromShareAll ? { note: 'from share_all' } : {}),
      overridden: share.origin ? overridesOf(share.overrides, share.origin) : [],
    });
  }
  for (const c of merged.capabilities) {
    settings.push({
      kind: 'capability',
      key: c.value.cap,
      value: c.value.add ? 'add' : 'drop',
      from: originJson(c.origin),
      ...(argsOf(`capability ${c.value.cap}`) ? { args: argsOf(`capability ${c.value.cap}`) } : {}),
      overridden: overridesOf(c.overrides, c.origin),
    });
  }
  for (const e of merged.environ) {
    const { at: _at, ...value } = e.value;
    settings.push({
      kind: 'environ',
      key: e.value.key,
      value,
      from: originJson(e.origin),
      ...(argsOf(`environ ${e.value.key}`) ? { args: argsOf(`environ ${e.value.key}`) } : {}),
      overridden: overridesOf(e.overrides, e.origin),
    });
  }
  for (const [key, s] of Object.entries(merged.scalars)) {
    if (!s) continue;
    settings.push({
      kind: 'scalar',
      key,
      value: s.value,
      from: originJson(s.origin),
      ...(argsOf(key) ? { args: argsOf(key) } : {}),
      overridden: overridesOf(s.overrides, s.origin),
    });
  }
  for (const key of ['path', 'ldpath'] as const) {
    const list = merged[key];
    if (!list) continue;
    const [first, ...rest] = list.contributions;
    settings.push({
      kind: 'path',
      key,
      value: list.value,
      from: originJson(first.origin),
      alsoFrom: rest.map((c) => originJson(c.origin)),
      ...(argsOf(key) ? { args: argsOf(key) } : {}),
      overridden: [],
    });
  }
  settings.push(...cgroupSettings(family, merged));
  addStrictest(settings, familySecurityDefinitions(family, { host }));
  for (const s of merged.seccomp) {
    const owner = present(
      family.nodes.find((n) => n.path === s.node),
      `node ${s.node} of the family`,
    );
    const config = present(s.kind === 'admin' ? owner.admin : owner.normal, `the ${s.kind} config of ${s.node}`);
    const at = (path: string) => originJson({ ...s.origin, at: config.positions[path] ?? s.origin.at });
    settings.push({
      kind: 'seccomp',
      key: 'default',
      value: s.filter.default ?? 'allow',
      from: at('seccomp.default'),
      note: `filter of ${s.alias}${s.kind === 'admin' ? ' (admin)' : ''}: every node's filter applies`,
      overridden: [],
    });
    s.filter.rules.forEach((rule, i) => {
      const syscalls = Array.isArray(rule.syscall) ? rule.syscall.join(',') : rule.syscall;
      settings.push({
        kind: 'seccomp',
        key: syscalls,
        value: rule.action === 'errno' ? `errno ${rule.errno ?? 'EPERM'}` : rule.action,
        from: at(`seccomp.rules.${i}.syscall`),
        note: `filter of ${s.alias}${s.kind === 'admin' ? ' (admin)' : ''}`,
        overridden: [],
      });
    });
  }

  return {
    node: loaded.nodes[0].path,
    alias: loaded.nodes[0].alias,
    admin: loaded.admin,
    family: merged.family,
    launchable: errors.length === 0,
    errors,
    settings,
    refused,
  };
}

/** The setting each explained security setting is compared as (strictness.ts), or undefined. */
function guardedSetting(s: ExplainSetting): string | undefined {
  if (s.kind === 'export') return `export ${s.key.toLowerCase()}`;
  if (s.kind === 'namespace') return `share_${s.key}`;
  if (s.kind === 'capability') return `capability ${s.key.toLowerCase()}`;
  if (s.kind === 'scalar' && (SCALAR_GUARDS as readonly string[]).includes(s.key)) return s.key;
  return undefined;
}

function addStrictest(settings: ExplainSetting[], defs: Definition[]): void {
  for (const s of settings) {
    const setting = guardedSetting(s);
    const best = setting && strictestOf(defs, setting);
    if (best)
      s.strictest = {
        from: originJson(best.origin),
        value: best.via ? `${best.shown} (from ${best.via})` : best.shown,
      };
  }
}

/** Each node's cgroup values, with what the nesting makes of them (a parent's limit caps its children's). */
function cgroupSettings(family: Family, merged: MergedConfig): ExplainSetting[] {
  const out: ExplainSetting[] = [];
  const chain = merged.cgroups; // root-most first
  for (const [index, c] of chain.entries()) {
    const node = family.nodes[c.depth];
    const ignored = new Map(
      ignoredCgroupKeys({ path: c.node, alias: c.alias, admin: family.admin, cgroups: c.settings }).map((w) => [
        w.key,
        w.message.replace(/^node \S+: cgroups\.\S+ /, ''),
      ]),
    );
    for (const [controller, values] of Object.entries(c.settings) as [string, Record<string, string>][]) {
      for (const [key, raw] of Object.entries(values)) {
        if (raw === undefined) continue;
        const file =
          family.admin &&
          node.admin?.config.cgroups &&
          (node.admin.config.cgroups as Record<string, Record<string, string>>)[controller]?.[key] !== undefined
            ? node.admin
            : node.normal;
        const at = file.positions[`config.cgroups.${controller}.${key}`] ?? { file: file.file, line: 0, col: 0 };
        const label = `${controller}.${key}`;
        let note: string | undefined;
        const parse = label === 'mem.max' ? memoryValue : label === 'pids.max' ? pidsValue : undefined;
        for (const above of chain.slice(0, index).reverse()) {
          const theirs = (above.settings as Record<string, Record<string, string>>)[controller]?.[key];
          if (theirs === undefined) continue;
          if (parse) {
            const [mine, cap] = [parse(raw), parse(theirs)];
            if (cap !== undefined && (mine === undefined || mine > cap))
              note = `capped at ${theirs} by ${above.alias} (${above.node})`;
          } else if (controller === 'cpuset') {
            const [mine, cap] = [cpuList(raw), cpuList(theirs)];
            if (mine && cap && [...mine].some((x) => !cap.has(x)))
              note = `not within ${theirs} of ${above.alias} (${above.node}): the kernel refuses or narrows it`;
          }
          break;
        }
        out.push({
          kind: 'cgroup',
          key: label,
          value: raw,
          from: originJson({ node: node.path, alias: node.alias, kind: file.kind, depth: c.depth, at }),
          note: `cgroup of ${c.alias}${note ? `; ${note}` : ''}${ignored.has(label) ? `; ${ignored.get(label)}` : ''}`,
          overridden: [],
        });
      }
    }
  }
  return out;
}

const fromText = (o: OriginJson) => `${o.alias}${o.kind === 'admin' ? ' (admin)' : ''} ${formatLine(o)}`;
const show = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'mode' in v) {
    const e = v as { mode: string; path?: string; value?: string };
    return [e.mode, e.path ?? e.value].filter((x) => x !== undefined).join(' ');
  }
  return JSON.stringify(v);
};

export function renderExplain(result: ExplainResult): string {
  const lines = [
    `explain ${result.alias} (${result.node})${result.admin ? ', with the admin configs' : ''}; family: ${result.family.map((f) => f.alias).join(' <- ')}`,
  ];
  if (!result.launchable)
    lines.push(`NOT LAUNCHABLE: redwrap refuses this node:`, ...result.errors.map((e) => `  - ${e}`));
  const titles: Record<SettingKind, string> = {
    export: 'mounts',
    namespace: 'namespaces',
    capability: 'capabilities',
    environ: 'environment',
    scalar: 'settings',
    path: 'paths',
    cgroup: 'cgroups',
    seccomp: 'seccomp',
  };
  for (const kind of [
    'export',
    'namespace',
    'capability',
    'environ',
    'scalar',
    'path',
    'cgroup',
    'seccomp',
  ] as SettingKind[]) {
    const group = result.settings.filter((s) => s.kind === kind);
    if (!group.length) continue;
    lines.push(`${titles[kind]}:`);
    for (const s of group) {
      lines.push(
        `  ${s.key}: ${show(s.value)}${s.from ? `  <- ${fromText(s.from)}` : ''}${s.args ? `  [${s.args.join(' ')}]` : ''}`,
      );
      if (s.note) lines.push(`      ${s.note}`);
      if (s.strictest && !(s.from && s.from.file === s.strictest.from.file && s.from.line === s.strictest.from.line))
        lines.push(
          `      strictest: ${s.strictest.value} <- ${fromText(s.strictest.from)} (no descendant may loosen it)`,
        );
      for (const also of s.alsoFrom ?? []) lines.push(`      also <- ${fromText(also)}`);
      for (const o of s.overridden)
        lines.push(
          `      overrides ${o.by === 'descendant' ? "a descendant's" : o.by === 'ancestor' ? "an ancestor's" : "the same node's"} ${show(o.value)} (${o.reason}) <- ${fromText(o.from)}`,
        );
    }
  }
  if (result.refused.length) {
    lines.push('refused:');
    for (const r of result.refused)
      lines.push(`  ${r.kind} ${r.key}: ${show(r.value)} <- ${fromText(r.from)}`, `      ${r.message}`);
  }
  return lines.join('\n');
}
