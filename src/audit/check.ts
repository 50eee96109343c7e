/**
 * `redmanager check`: the offline coherency proof of a tree of nodes, for CI before an image
 * ships. Every node is checked and every finding reported (never only the first), each with its
 * class, the node, the file/line or package at fault and a message. The exit status is the most
 * severe class's (CHECK_EXIT_CODES, README "Exit statuses", docs/audit.md).
 *
 * What is checked, per node of the tree:
 * - config: the status and config files parse and validate; the merged configuration (normal,
 *   and with the admin files) can be launched: known capabilities, octal umask, export sources,
 *   seccomp filters that compile, cgroup values the kernel takes;
 * - merge: no loosening of what an ancestor forbids (namespaces, capabilities);
 * - rpmdb: the node's rpm database is readable;
 * - dependency / duplicate / conflict: the family rules on the installed packages, by libsolv
 *   (redsolver mode `audit`): requirements met by the node and its ancestors, no package an ancestor
 *   has, no Conflicts/Obsoletes between the node and its view;
 * - files: `rpm -V` of the node's own database against the node's own files;
 * - cgroups: budgets that do not nest (src/audit/cgroups-lint.ts), keys accepted but ignored.
 *
 * `whatIf` answers, for an upgrade or a removal in one node, whether any descendant would break,
 * with the solver of the real transaction, nothing fetched or changed.
 */
import { dirname, join } from 'node:path';
import { hasNotRun, type HostFacts } from '../config/expand.js';
import { formatPosition, RedpakError, type SourcePosition } from '../errors.js';
import { mergeFamily } from '../merge/merge.js';
import { RPMDB_DIR, Sysroot } from '../node/layout.js';
import { childDirectories, isNodeDir, loadNode, nodeTarget } from '../node/load.js';
import type { Family, RedNode } from '../node/types.js';
import { openPackageFamily, outerDatabases } from '../pkg/family-context.js';
import { familyRepos, syncRepos } from '../pkg/repos.js';
import { readReasons } from '../pkg/reasons.js';
import { pendingMerge } from '../pkg/view.js';
import { unownedFiles } from './unowned.js';
import { hasRpmDb, verifyNode, type InstalledPackage, type VerifyProblem } from '../pkg/rpm.js';
import { queryPackages } from '../pkg/installed.js';
import { auditTree, solve, assertSolved, type RuleViolation, type SolverJob } from '../pkg/solver.js';
import { inspectionHostFacts } from '../system/host-facts.js';
import { assertLaunchable, cgroupChain } from '../wrap/launch.js';
import { probeHost } from '../wrap/host-probe.js';
import { ignoredCgroupKeys, planCgroups, requestedControllers } from '../wrap/cgroups.js';
import { compileLaunchPlan, type LaunchPlan } from '../wrap/plan.js';
import type { MergedConfig } from '../merge/types.js';
import { launchRefusals, liveHostView, type HostView } from './launch-proof.js';
import { compileSeccomp, nativeSeccompArch } from '../wrap/seccomp.js';
import { lintCgroups, type LintNode } from './cgroups-lint.js';
import { present } from '../present.js';

/** Classes of findings, least severe first. */
export const CHECK_CLASSES = [
  'cgroups',
  'duplicate',
  'files',
  'conflict',
  'dependency',
  'merge',
  'config',
  'rpmdb',
] as const;
export type CheckClass = (typeof CHECK_CLASSES)[number];

/**
 * Exit status of `redmanager check` by the most severe class found (0: nothing found). They grow
 * with the severity, so the status is the largest one among the findings. They are apart from
 * the statuses of the command's own failures (1–10, src/errors.ts EXIT_CODES): a check that could
 * not run (not a node, rpm missing, bad option) exits with those and reports no findings.
 */
export const CHECK_EXIT_CODES: Record<CheckClass, number> = {
  cgroups: 20,
  duplicate: 21,
  files: 22,
  conflict: 23,
  dependency: 24,
  merge: 25,
  config: 26,
  rpmdb: 27,
};

export const CHECK_CLASS_MEANING: Record<CheckClass, string> = {
  cgroups:
    "cgroup budgets that do not nest: a child limit above an ancestor's, children overcommitting it, a cpuset outside the ancestor's; keys accepted but ignored (as redpak does)",
  duplicate: 'a package also installed in an ancestor (or twice in the node)',
  files: "files that differ from the node's rpm database (rpm -V): modified, missing, other mode or owner",
  conflict: 'Conflicts or Obsoletes between a package of the node and one of the node or its ancestors',
  dependency: 'a requirement of an installed package that nothing in the node or its ancestors provides',
  merge: 'a child loosens what an ancestor forbids: the node cannot be launched',
  config: 'an invalid status or config file, or a merged configuration that cannot be launched',
  rpmdb: "the node's rpm database cannot be read",
};

export interface Finding {
  class: CheckClass;
  /** What exactly, within the class: unsatisfied, obsoletes, modified, missing, overcommit, an error code, … */
  rule: string;
  /** Target path of the node at fault, and its alias when its config could be read. */
  node: string;
  alias?: string;
  message: string;
  /** The file and line at fault. */
  at?: SourcePosition;
  /** NEVRA of the package at fault. */
  package?: string;
  /** files: the file, as the node sees it. */
  file?: string;
  /** The requirement, Conflicts or Obsoletes entry. */
  requirement?: string;
  /** The other party: a package and its node. */
  other?: { package?: string; node: string };
  /** Set when the finding only shows with the admin configs. */
  mode?: 'admin';
  hint?: string;
}

export interface CheckedNode {
  path: string;
  alias?: string;
  state?: string;
  /** Packages in its own database (absent when it has none or it is unreadable). */
  packages?: number;
  findings: number;
}

export interface CheckSummary {
  ok: boolean;
  /** The process exit status: 0, or CHECK_EXIT_CODES of `worst`. */
  exitCode: number;
  worst?: CheckClass;
  /** Findings per class (every class present, 0 when none). */
  counts: Record<CheckClass, number>;
  findings: Finding[];
}

export interface CheckResult extends CheckSummary {
  /** Target path of the top node checked. */
  root: string;
  sysroot: string;
  checks: { config: boolean; packages: boolean; files: boolean; cgroups: boolean; unowned: boolean };
  nodes: CheckedNode[];
}

export interface CheckOptions {
  redroot: string;
  sysroot?: string;
  cwd?: string;
  host?: HostFacts;
  /** Default true each. */
  config?: boolean;
  packages?: boolean;
  files?: boolean;
  cgroups?: boolean;
  /** Also list the files of each node that none of its packages owns (default false). */
  unowned?: boolean;
  /** Package names allowed in a node although an ancestor has them (installed with --forcenode on purpose). */
  allowDuplicates?: string[];
  /** What the host offers a launch (default: this host's, read once). */
  hostView?: HostView;
}

interface TreeEntry {
  path: string;
  hostPath: string;
  parent?: string;
  node?: RedNode;
  /** Part of the tree checked, or an ancestor above it (providers, limits, never checked). */
  above: boolean;
}

export function summarize(findings: Finding[]): CheckSummary {
  const counts = Object.fromEntries(CHECK_CLASSES.map((c) => [c, 0])) as Record<CheckClass, number>;
  for (const f of findings) counts[f.class] += 1;
  const worst = [...CHECK_CLASSES].reverse().find((c) => counts[c] > 0);
  return { ok: !worst, exitCode: worst ? CHECK_EXIT_CODES[worst] : 0, ...(worst ? { worst } : {}), counts, findings };
}

const ownerOf = (entries: TreeEntry[], file: string): TreeEntry | undefined =>
  entries
    .filter((e) => file === e.hostPath || file.startsWith(e.hostPath.endsWith('/') ? e.hostPath : `${e.hostPath}/`))
    .sort((a, b) => b.hostPath.length - a.hostPath.length)[0];

export async function checkTree(options: CheckOptions): Promise<CheckResult> {
  const sysroot = Sysroot.open(options.sysroot);
  const rootPath = nodeTarget(sysroot, options.redroot, options.cwd);
  if (!isNodeDir(sysroot.toHost(rootPath))) {
    throw new RedpakError('not-a-node', `${rootPath} is not a node (no .rednode.yaml in ${sysroot.toHost(rootPath)})`, {
      hint: 'give the top node of the tree with --redroot',
    });
  }
  // An audit never runs a config's $(...): the tree may be an untrusted image.
  const host = options.host ?? inspectionHostFacts();
  let view = options.hostView;
  const hostView = (): HostView => (view ??= liveHostView());
  const run = {
    config: options.config ?? true,
    packages: options.packages ?? true,
    files: options.files ?? true,
    cgroups: options.cgroups ?? true,
    unowned: options.unowned ?? false,
  };
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);

  // The tree, and the nodes above it (they provide packages and limits to it).
  const entries: TreeEntry[] = [];
  const load = (path: string, above: boolean, parent?: string): TreeEntry => {
    const entry: TreeEntry = {
      path,
      hostPath: sysroot.toHost(path),
      above,
      ...(parent !== undefined ? { parent } : {}),
    };
    try {
      entry.node = loadNode(sysroot, path, { admin: true });
    } catch (error) {
      if (!(error instanceof RedpakError)) throw error;
      if (run.config)
        add({
          class: 'config',
          rule: error.code,
          node: path,
          message: `${above ? 'ancestor ' : ''}node ${path}: ${error.message}`,
          ...(error.at ? { at: error.at } : {}),
          ...(error.hint ? { hint: error.hint } : {}),
        });
    }
    return entry;
  };
  const aboveChain: string[] = [];
  for (let dir = dirname(rootPath); dir !== '/' && rootPath !== '/'; dir = dirname(dir))
    if (isNodeDir(sysroot.toHost(dir))) aboveChain.push(dir);
  aboveChain.reverse().forEach((path, i) => {
    entries.push(load(path, true, i ? aboveChain[i - 1] : undefined));
  });
  const walk = (path: string, parent: string | undefined) => {
    entries.push(load(path, false, parent));
    const hostPath = sysroot.toHost(path);
    for (const name of childDirectories(hostPath)) {
      const child = path === '/' ? `/${name}` : `${path}/${name}`;
      if (isNodeDir(sysroot.toHost(child))) walk(child, path);
    }
  };
  walk(rootPath, aboveChain[aboveChain.length - 1]);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const tree = entries.filter((e) => !e.above);
  const chainOf = (e: TreeEntry): TreeEntry[] => {
    const out = [e];
    for (
      let p = e.parent === undefined ? undefined : byPath.get(e.parent);
      p;
      p = p.parent === undefined ? undefined : byPath.get(p.parent)
    )
      out.push(p);
    return out;
  };

  if (run.config) {
    const seen = new Set<string>();
    for (const entry of tree) {
      const chain = chainOf(entry);
      const nodes = chain.flatMap((e) => (e.node ? [e.node] : []));
      if (nodes.length !== chain.length) continue; // reported when loading
      for (const admin of [false, true]) {
        const family: Family = { sysroot: sysroot.dir, admin, nodes };
        const problems: { error: RedpakError; rule?: string }[] = [];
        try {
          const { merged, plan } = validateLaunch(family, host, sysroot);
          problems.push(...launchRefusals(family, merged, plan, sysroot, hostView()));
        } catch (error) {
          if (!(error instanceof RedpakError)) throw error;
          problems.push({ error });
        }
        for (const { error, rule } of problems) {
          const key = `${error.code}\n${error.message}\n${JSON.stringify(error.at ?? null)}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const owner = (error.at && ownerOf(entries, error.at.file)) || entry;
          add({
            class: error.code === 'merge-conflict' ? 'merge' : 'config',
            rule: rule ?? error.code,
            node: owner.path,
            ...(owner.node ? { alias: owner.node.alias } : {}),
            message:
              error.code === 'merge-conflict' || owner === entry
                ? error.message
                : `${error.message} (merging ${entry.path})`,
            ...(error.at ? { at: error.at } : {}),
            ...(error.hint ? { hint: error.hint } : {}),
            ...(admin ? { mode: 'admin' as const } : {}),
          });
        }
      }
    }
  }

  const packageCounts = new Map<string, number>();
  if (run.packages || run.files || run.unowned) {
    const installed = new Map<string, InstalledPackage[]>();
    const unreadable = new Set<string>();
    for (const entry of tree) {
      if (pendingMerge(entry.hostPath)) {
        // Reported, not repaired: check changes nothing (docs/transactions.md).
        unreadable.add(entry.path);
        add({
          class: 'rpmdb',
          rule: 'half-merged',
          node: entry.path,
          ...aliasOf(entry),
          message: `${label(entry)} holds a package transaction whose merge was interrupted: its files and rpm database may not match`,
          hint: `complete it with any redwrap-dnf command on the node, e.g. redwrap-dnf --redpath ${entry.path} list --installed`,
        });
        continue;
      }
      if (!hasRpmDb(entry.hostPath)) continue;
      try {
        const packages = await queryPackages(entry.hostPath);
        installed.set(entry.path, packages);
        packageCounts.set(entry.path, packages.length);
      } catch (error) {
        if (!(error instanceof RedpakError) || error.code !== 'tool-failed') throw error;
        unreadable.add(entry.path);
        add({
          class: 'rpmdb',
          rule: 'unreadable',
          node: entry.path,
          ...aliasOf(entry),
          at: { file: join(entry.hostPath, RPMDB_DIR), line: 0, col: 0 },
          message: `the rpm database of ${label(entry)} cannot be read: ${firstLine(error.message)}`,
        });
      }
    }
    if (run.packages) {
      const top = entries[0];
      const outer = outerDatabases(sysroot, top.path).map((db) => db.root);
      const answer = await auditTree({
        nodes: entries.map((e) => ({
          node: e.hostPath,
          ...(e.parent !== undefined ? { parent: sysroot.toHost(e.parent) } : {}),
        })),
        outer,
        allowDuplicates: options.allowDuplicates,
      });
      const byHost = new Map(entries.map((e) => [e.hostPath, e]));
      const target = (hostPath: string) => byHost.get(hostPath)?.path ?? sysroot.toTarget(hostPath);
      const text = (message: string) => (sysroot.isHost ? message : message.split(sysroot.dir).join(''));
      for (const u of answer.unreadable) {
        const e = byHost.get(u.node);
        if (e && (unreadable.has(e.path) || e.above)) continue;
        add({
          class: 'rpmdb',
          rule: 'unreadable',
          node: target(u.node),
          ...(e ? aliasOf(e) : {}),
          message: text(u.error),
        });
      }
      for (const f of answer.findings) {
        const e = byHost.get(f.node);
        if (!e || e.above) continue;
        add({
          class: f.rule === 'unsatisfied' ? 'dependency' : f.rule === 'duplicate' ? 'duplicate' : 'conflict',
          rule: f.rule,
          node: e.path,
          ...aliasOf(e),
          package: f.package,
          message: `${label(e)}: ${text(f.message)}`,
          ...(f.requirement ? { requirement: f.requirement } : {}),
          ...(f.other ? { other: { package: f.other, node: target(f.otherNode ?? f.node) } } : {}),
          ...(f.rule === 'duplicate'
            ? { hint: `remove it from one of the nodes, or accept it with --allow-duplicate ${f.name}` }
            : {}),
          ...(f.rule === 'unsatisfied'
            ? { hint: `install a provider of ${f.requirement} in ${e.path} or one of its ancestors` }
            : {}),
          ...(f.rule === 'file-conflict'
            ? {
                hint: `keep ${f.requirement} in one node: remove ${f.name} from ${e.path}, or the other package from its node`,
              }
            : {}),
        });
      }
    }
    if (run.files) {
      for (const entry of tree) {
        const packages = installed.get(entry.path);
        if (!packages) continue;
        const owners = new Map<string, string[]>();
        for (const p of packages) for (const f of p.files) owners.set(f.path, [...(owners.get(f.path) ?? []), p.nevra]);
        let problems: VerifyProblem[];
        try {
          problems = await verifyNode(entry.hostPath);
        } catch (error) {
          if (!(error instanceof RedpakError) || error.code !== 'tool-failed') throw error;
          add({
            class: 'rpmdb',
            rule: 'verify-failed',
            node: entry.path,
            ...aliasOf(entry),
            message: `${label(entry)}: ${firstLine(error.message)}`,
          });
          continue;
        }
        for (const p of problems) {
          const pkgs = owners.get(p.path) ?? [];
          const what = p.failed.includes('missing')
            ? 'is missing'
            : `differs from the rpm database: ${p.failed.join(', ')} (${p.flags})`;
          add({
            class: 'files',
            rule: p.failed.includes('missing') ? 'missing' : 'modified',
            node: entry.path,
            ...aliasOf(entry),
            file: p.path,
            at: { file: `${entry.hostPath}${p.path}`, line: 0, col: 0 },
            ...(pkgs.length ? { package: pkgs.join(', ') } : {}),
            message: `${label(entry)}: ${p.attr === 'c' ? 'config file' : 'file'} ${p.path}${pkgs.length ? ` of ${pkgs.join(', ')}` : ''} ${what}`,
            hint: `reinstall the package in ${entry.path} (redwrap-dnf reinstall) or rebuild the image`,
          });
        }
      }
    }
    if (run.unowned) {
      for (const entry of tree) {
        if (!entry.node || unreadable.has(entry.path)) continue;
        const owned = new Set((installed.get(entry.path) ?? []).flatMap((p) => p.files.map((f) => f.path)));
        for (const file of unownedFiles(entry.hostPath, owned)) {
          add({
            class: 'files',
            rule: 'unowned',
            node: entry.path,
            ...aliasOf(entry),
            file,
            at: { file: `${entry.hostPath}${file}`, line: 0, col: 0 },
            message: `${label(entry)}: ${file} belongs to no package of the node`,
            hint: 'package it, or remove it from the node',
          });
        }
      }
    }
  }

  if (run.cgroups) {
    const lintNodes: LintNode[] = entries.flatMap((e) =>
      e.node
        ? [{ path: e.path, alias: e.node.alias, node: e.node, ...(e.parent !== undefined ? { parent: e.parent } : {}) }]
        : [],
    );
    for (const f of lintCgroups(lintNodes)) {
      const e = present(byPath.get(f.node), `the tree entry of ${f.node}`);
      if (e.above) continue;
      add({
        class: 'cgroups',
        rule: f.rule,
        node: f.node,
        ...aliasOf(e),
        message: f.message,
        ...(f.at ? { at: f.at } : {}),
        ...(f.adminOnly ? { mode: 'admin' as const } : {}),
      });
    }
    // Keys accepted but not applied (redpak ignores them too): the launch warns, check lists them.
    for (const e of tree) {
      if (!e.node) continue;
      for (const file of [e.node.normal, ...(e.node.admin ? [e.node.admin] : [])]) {
        const at = file.positions['config.cgroups'];
        const node = { path: e.path, alias: e.node.alias, admin: file.kind === 'admin' };
        for (const w of ignoredCgroupKeys({ ...node, cgroups: file.config.cgroups, ...(at ? { at } : {}) })) {
          add({
            class: 'cgroups',
            rule: 'ignored',
            node: e.path,
            alias: e.node.alias,
            message: w.message,
            ...(w.at ? { at: w.at } : {}),
            ...(file.kind === 'admin' ? { mode: 'admin' as const } : {}),
          });
        }
      }
    }
  }

  const perNode = new Map<string, number>();
  for (const f of findings) perNode.set(f.node, (perNode.get(f.node) ?? 0) + 1);
  return {
    root: rootPath,
    sysroot: sysroot.dir,
    checks: run,
    nodes: tree.map((e) => ({
      path: e.path,
      ...aliasOf(e),
      ...(e.node ? { state: e.node.status.state } : {}),
      ...(packageCounts.has(e.path) ? { packages: packageCounts.get(e.path) } : {}),
      findings: perNode.get(e.path) ?? 0,
    })),
    ...summarize(findings),
  };
}

const aliasOf = (e: TreeEntry) => (e.node ? { alias: e.node.alias } : {});
const label = (e: TreeEntry) => (e.node ? `${e.node.alias} (${e.path})` : e.path);
const firstLine = (text: string) => text.split('\n')[0];

/**
 * Everything about a launch of the family that can fail before anything runs, without the host
 * (no cgroup tree, no user lookup, no namespace to join): merge, capabilities, umask, exports,
 * seccomp, cgroup values.
 */
function validateLaunch(family: Family, host: HostFacts, sysroot: Sysroot): { merged: MergedConfig; plan: LaunchPlan } {
  const merged = mergeFamily(family, { host });
  assertLaunchable(merged);
  const plan = compileLaunchPlan(family, merged, { host, probe: probeHost(sysroot) });
  const arch = nativeSeccompArch();
  if (arch) {
    for (const s of merged.seccomp) {
      try {
        compileSeccomp(s.filter, arch);
      } catch (error) {
        if (error instanceof RedpakError && !error.at)
          throw new RedpakError(error.code, error.message, { at: s.origin.at, hint: error.hint });
        throw error;
      }
    }
  }
  if (merged.cgroups.length) {
    const nodes = cgroupChain(family, merged);
    if (requestedControllers(nodes).length) {
      // Errors about a node's values carry where that node's cgroups are written (cgroupChain).
      planCgroups(nodes, { version: 'v2', root: '/sys/fs/cgroup/redpak-check' });
    }
  }
  return { merged, plan };
}

// ---------------------------------------------------------------------------------------------
// What if: an upgrade or a removal in one node, and what it would do to the descendants.

export interface WhatIfOptions {
  redpath: string;
  sysroot?: string;
  cwd?: string;
  action: 'upgrade' | 'remove';
  /** Packages of the node (names, globs, name-version); upgrade without any: every package of the node. */
  specs: string[];
  repoDirs?: string[];
  noRepoFiles?: boolean;
  cacheOnly?: boolean;
  refresh?: boolean;
}

export interface WhatIfResult extends CheckSummary {
  node: string;
  alias: string;
  action: 'upgrade' | 'remove';
  specs: string[];
  /** What the transaction would do in the node. */
  steps: { action: string; nevra: string; replaces: string[] }[];
  /** Descendant nodes whose packages were checked. */
  descendants: string[];
}

export async function whatIf(options: WhatIfOptions): Promise<WhatIfResult> {
  const pf = openPackageFamily({
    redpath: options.redpath,
    sysroot: options.sysroot,
    cwd: options.cwd,
    host: inspectionHostFacts(),
  });
  if (hasNotRun(pf.cacheDir)) {
    throw new RedpakError(
      'expansion',
      `the cachedir of ${pf.node.path}'s family runs a command (${pf.cacheDir}), which check never runs`,
      {
        hint: 'write the cachedir without $(...)',
      },
    );
  }
  const jobs: SolverJob[] =
    options.action === 'remove'
      ? options.specs.map((what) => ({ op: 'erase', what }))
      : options.specs.length
        ? options.specs.map((what) => ({ op: 'upgrade', what }))
        : [{ op: 'upgrade-all' }];
  if (options.action === 'remove' && !options.specs.length)
    throw new RedpakError('usage', 'name the packages to remove');
  const repos =
    options.action === 'upgrade'
      ? await syncRepos(
          familyRepos(pf, options).filter((r) => r.enabled),
          pf.cacheDir,
          { refresh: options.refresh, cacheOnly: options.cacheOnly },
        )
      : [];
  // The same request the real command makes (remove takes the dependencies only it needed), but
  // without the solver's cache: check writes nothing there.
  const result = await solve({
    node: pf.nodeRoot,
    ancestors: pf.ancestors.map((a) => a.root),
    descendants: pf.descendants,
    repos: repos.map((r) => r.solver),
    jobs,
    reasons: readReasons(pf.nodeRoot),
    cleanDeps: options.action === 'remove',
  });
  const text = (message: string) => (pf.sysroot.isHost ? message : message.split(pf.sysroot.dir).join(''));
  const descendantRules = (v: RuleViolation) => v.rule.startsWith('descendant-');
  // A request the real command would refuse by itself (unknown package, an ancestor's package,
  // no solution) is an error, as the command would give it; the what-if is about descendants.
  const own = { ...result, violations: result.violations.filter((v) => !descendantRules(v)) };
  if (own.violations.length || own.problems.length) {
    try {
      assertSolved(own, pf.node.path);
    } catch (error) {
      if (error instanceof RedpakError) throw new RedpakError(error.code, text(error.message), { hint: error.hint });
      throw error;
    }
  }
  const findings: Finding[] = result.violations.filter(descendantRules).map((v) => {
    const node = pf.sysroot.toTarget(v.node);
    return {
      class: v.rule === 'descendant-broken' ? ('dependency' as const) : ('conflict' as const),
      rule: v.rule,
      node,
      package: v.package,
      message: text(v.message),
      ...(v.requirement ? { requirement: v.requirement } : {}),
      other: { node: pf.node.path, ...(v.removed?.length ? { package: v.removed.join(', ') } : {}) },
      hint: `adapt the packages of ${node} first, or do not ${options.action} it`,
    };
  });
  return {
    node: pf.node.path,
    alias: pf.node.alias,
    action: options.action,
    specs: options.specs,
    steps: result.steps.map((s) => ({ action: s.action, nevra: s.nevra, replaces: s.replaces ?? [] })),
    descendants: pf.descendants.map((d) => pf.sysroot.toTarget(d.node)),
    ...summarize(findings),
  };
}

// ---------------------------------------------------------------------------------------------
// Text

function findingLines(findings: Finding[]): string[] {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(
      `[${f.class}] ${f.message}${f.mode === 'admin' && !f.message.includes('admin') ? ' (with the admin configs)' : ''}`,
    );
    if (f.at?.line) lines.push(`    at ${formatPosition(f.at)}`);
    if (f.hint) lines.push(`    hint: ${f.hint}`);
  }
  return lines;
}

function verdict(summary: CheckSummary): string {
  if (summary.ok) return 'OK: no findings';
  const counts = CHECK_CLASSES.filter((c) => summary.counts[c])
    .reverse()
    .map((c) => `${c} ${summary.counts[c]}`);
  return `FAILED: ${summary.findings.length} finding${summary.findings.length === 1 ? '' : 's'} (${counts.join(', ')}); exit status ${summary.exitCode} (${summary.worst})`;
}

export function renderCheck(result: CheckResult): string {
  const ran = Object.entries(result.checks)
    .filter(([, on]) => on)
    .map(([name]) => name);
  const packages = result.nodes.reduce((n, e) => n + (e.packages ?? 0), 0);
  const lines = [
    `check ${result.root}${result.sysroot !== '/' ? ` in ${result.sysroot}` : ''}: ${result.nodes.length} node${result.nodes.length === 1 ? '' : 's'}, ${packages} packages; checked: ${ran.join(', ')}`,
  ];
  for (const n of result.nodes)
    lines.push(
      `  ${n.findings ? '✗' : '✓'} ${n.alias ?? '?'} (${n.path})${n.state && n.state !== 'Enable' ? ` [${n.state}]` : ''}${n.packages !== undefined ? `, ${n.packages} packages` : ''}${n.findings ? `, ${n.findings} finding${n.findings === 1 ? '' : 's'}` : ''}`,
    );
  return [...lines, ...findingLines(result.findings), verdict(result)].join('\n');
}

export function renderWhatIf(result: WhatIfResult): string {
  const lines = [
    `${result.action} ${result.specs.join(' ') || '(every package)'} in ${result.alias} (${result.node}), checked against ${result.descendants.length} descendant node${result.descendants.length === 1 ? '' : 's'}:`,
  ];
  if (!result.steps.length) lines.push('  nothing to do');
  for (const s of result.steps)
    lines.push(`  ${s.action} ${s.nevra}${s.replaces.length ? ` (replaces ${s.replaces.join(', ')})` : ''}`);
  lines.push(...findingLines(result.findings));
  lines.push(result.ok ? `OK: no descendant would break` : verdict(result));
  return lines.join('\n');
}
