/**
 * The plan of a recipe: recipe + what is on disk → what apply does, node by node, parents first.
 * Pure: the state is read by recipe-apply.ts (`readState`) and handed in.
 *
 * Rules (docs/image-build.md):
 * - a node missing is created (with a system node above it when it would have no ancestor,
 *   unless `system-node: false`); an existing node's configs are rewritten only when the recipe
 *   gives a template or config and the content differs (headers kept);
 * - repositories are written as `<id>.repo` when missing or different;
 * - packages: a listed package missing from the node (and its ancestors) is installed; a pinned
 *   one at another version is installed at the pin (upgrade or downgrade); nothing else is
 *   removed unless `prune: true`, which removes the node's own packages that are neither listed
 *   nor needed by listed ones;
 * - `enabled: false` disables the node after every package transaction; `enabled: true` (the
 *   default) enables a disabled node first.
 */
import { posix } from 'node:path';
import { RedpakError } from '../errors.js';
import type { SolverJob } from '../pkg/solver.js';
import { pinMatches, type Recipe, type RecipeNode } from './recipe.js';

export const IGNORED_PACKAGES = new Set(['redpak-host-provides', 'gpg-pubkey']);

/** One installed package, as much as planning needs. */
export interface PackageState {
  name: string;
  /** [epoch:]version-release */
  evr: string;
  nevra: string;
  provides: string[];
  /** Requirement names (rpmlib() ones left out). */
  requires: string[];
  files: string[];
}

export interface NodeSnapshot {
  path: string;
  alias: string;
  state: string;
  /** Canonical JSON of the normal and admin configs without headers; undefined when the file is missing. */
  normal?: string;
  admin?: string;
  /** The node's own packages. */
  packages: PackageState[];
  hasHostProvides: boolean;
  /** Text of etc/yum.repos.d/<id>.repo by id, for the ids the recipe writes. */
  repoFiles: Record<string, string>;
}

export interface FamilyState {
  /** Nodes on disk, by target path: recipe nodes, their ancestors, and repository nodes. */
  nodes: Record<string, NodeSnapshot>;
}

/** What the recipe wants a node's configs to be (canonical JSON without headers); undefined: leave as is. */
export interface DesiredConfig {
  normal?: string;
  admin?: string;
}

/** A package the frozen lock pins a node to. */
export interface LockedPackageFile {
  nevra: string;
  name: string;
  /** Local .rpm file, checksum already verified. */
  file: string;
}

export interface NodePlan {
  path: string;
  alias: string;
  /** The node is created (with `systemNode` first when set). */
  create: boolean;
  systemNode?: string;
  /** Config files rewritten. */
  updateConfig: ('normal' | 'admin')[];
  enable: boolean;
  /** Done after every node's packages. */
  disable: boolean;
  /** Repository files written in this step (before its packages). */
  repos: { id: string; node: string; text: string; reason: 'new' | 'changed' }[];
  /**
   * The host's capabilities go into the family root `root`: registered by the node creation
   * (`with-create`), or apart (`register`: an existing root lacking them, or extra capabilities).
   */
  hostProvides?: { how: 'with-create' | 'register'; root: string };
  /** One transaction: these jobs. */
  jobs: SolverJob[];
  /** For display: what the jobs ask, in words. */
  packages: { action: 'install' | 'remove'; what: string; reason: string }[];
}

export interface RecipePlan {
  nodes: NodePlan[];
  /** Nothing to do for the nodes (the lock file may still change). */
  empty: boolean;
}

export interface PlanInput {
  recipe: Recipe;
  state: FamilyState;
  desired: Record<string, DesiredConfig>;
  /** Whether create-node would register host capabilities in a new family root by itself. */
  defaultHostProvides: boolean;
  /** Frozen: per node, the exact packages of the lock (files verified). */
  frozen?: Record<string, LockedPackageFile[]>;
}

const isAbove = (above: string, path: string) => path.startsWith(`${above}/`);

/** The ancestors of a target path that are or will be nodes, closest first. */
function ancestorsOf(path: string, input: PlanInput, implied: Map<string, string>): string[] {
  const out: string[] = [];
  for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) {
    if (input.state.nodes[dir] || input.recipe.nodes.some((n) => n.path === dir) || [...implied.values()].includes(dir))
      out.push(dir);
  }
  return out;
}

function keepClosure(packages: PackageState[], listed: Set<string>): Set<string> {
  const keep = new Set<string>();
  const queue = packages.filter((p) => listed.has(p.name));
  for (let p = queue.pop(); p !== undefined; p = queue.pop()) {
    if (keep.has(p.nevra)) continue;
    keep.add(p.nevra);
    for (const req of p.requires) {
      for (const q of packages) {
        if (!keep.has(q.nevra) && (q.name === req || q.provides.includes(req) || q.files.includes(req))) queue.push(q);
      }
    }
  }
  return keep;
}

/** Package jobs of one node: listed packages, pins, prune; or with `frozen`, exactly the lock. */
export function packageJobs(
  node: RecipeNode,
  own: PackageState[],
  ancestorPackages: { node: string; pkg: PackageState }[],
  frozen: LockedPackageFile[] | undefined,
): { jobs: SolverJob[]; packages: NodePlan['packages'] } {
  const jobs: SolverJob[] = [];
  const packages: NodePlan['packages'] = [];
  const mine = own.filter((p) => !IGNORED_PACKAGES.has(p.name));
  if (frozen) {
    const wanted = new Set(frozen.map((f) => f.nevra));
    for (const f of frozen) {
      if (mine.some((p) => p.nevra === f.nevra)) continue;
      const other = mine.find((p) => p.name === f.name);
      jobs.push({ op: 'install', what: f.file });
      packages.push({
        action: 'install',
        what: f.nevra,
        reason: other ? `locked (replaces ${other.nevra})` : 'locked',
      });
    }
    for (const p of mine) {
      if (wanted.has(p.nevra) || frozen.some((f) => f.name === p.name)) continue;
      if (!node.prune) {
        throw new RedpakError(
          'package',
          `node ${node.alias} (${node.path}) has ${p.nevra}, which the lock file does not list`,
          {
            hint: 'remove it, set prune: true for the node, or run apply without --frozen to update the lock file',
          },
        );
      }
      jobs.push({ op: 'erase', what: p.nevra });
      packages.push({ action: 'remove', what: p.nevra, reason: 'not in the lock (prune)' });
    }
    return { jobs, packages };
  }
  for (const spec of node.packages) {
    const has = mine.find((p) => p.name === spec.name);
    if (has) {
      if (!spec.pin || pinMatches(spec.pin, has.evr)) continue;
      jobs.push({ op: 'install', what: `${spec.name} = ${spec.pin}` });
      packages.push({
        action: 'install',
        what: `${spec.name} = ${spec.pin}`,
        reason: `pinned (replaces ${has.nevra})`,
      });
      continue;
    }
    const inAncestor = ancestorPackages.find((a) => a.pkg.name === spec.name);
    if (inAncestor) {
      if (!spec.pin || pinMatches(spec.pin, inAncestor.pkg.evr)) continue; // reused from the ancestor
      throw new RedpakError(
        'family-rule',
        `node ${node.alias} wants ${spec.name} = ${spec.pin}, but its ancestor ${inAncestor.node} has ${inAncestor.pkg.nevra}, which it cannot change`,
        {
          at: spec.at,
          hint: `pin the version in the recipe entry of ${inAncestor.node} instead`,
        },
      );
    }
    jobs.push({ op: 'install', what: spec.pin ? `${spec.name} = ${spec.pin}` : spec.name });
    packages.push({ action: 'install', what: spec.pin ? `${spec.name} = ${spec.pin}` : spec.name, reason: 'listed' });
  }
  if (node.prune) {
    const keep = keepClosure(mine, new Set(node.packages.map((p) => p.name)));
    for (const p of mine) {
      if (keep.has(p.nevra)) continue;
      jobs.push({ op: 'erase', what: p.nevra });
      packages.push({ action: 'remove', what: p.nevra, reason: 'not listed (prune)' });
    }
  }
  return { jobs, packages };
}

/** The whole plan, parents first. Throws (nothing done yet) when the recipe cannot be applied. */
export function planRecipe(input: PlanInput): RecipePlan {
  const { recipe, state } = input;
  // System nodes created for recipe nodes that would have no ancestor.
  const implied = new Map<string, string>();
  for (const node of recipe.nodes) {
    if (state.nodes[node.path] || !node.systemNode) continue;
    if (ancestorsOf(node.path, input, implied).length > 0) continue;
    const system = posix.dirname(node.path);
    if (system !== recipe.redroot && !isAbove(recipe.redroot, system)) {
      throw new RedpakError(
        'schema',
        `node ${node.alias} (${node.path}) would get a system node at ${system}, outside the redroot ${recipe.redroot}`,
        {
          at: node.at,
          hint: 'set system-node: false for it, or add a node above it in the recipe',
        },
      );
    }
    implied.set(node.path, system);
  }
  const topOf = (path: string) => ancestorsOf(path, input, implied).at(-1) ?? path;
  const willExist = (path: string) =>
    !!state.nodes[path] || recipe.nodes.some((n) => n.path === path) || [...implied.values()].includes(path);

  // Repositories: into the given node, else the family's top node.
  const repoSteps = new Map<string, NodePlan['repos']>();
  const tops = [...new Set(recipe.nodes.map((n) => topOf(n.path)))];
  for (const repo of recipe.repositories) {
    let target = repo.node;
    if (target === undefined) {
      if (tops.length !== 1) {
        throw new RedpakError(
          'schema',
          `repository ${repo.id}: the recipe builds ${tops.length} families (${tops.join(', ')}): say which node gets it with "node:"`,
          { at: repo.at },
        );
      }
      target = tops[0];
    }
    if (!willExist(target)) {
      throw new RedpakError(
        'schema',
        `repository ${repo.id}: ${target} is not a node and the recipe does not create it`,
        { at: repo.at, hint: "give a node of the recipe, or its family's top node" },
      );
    }
    const current = state.nodes[target]?.repoFiles[repo.id];
    if (current === repo.text) continue;
    // Written in the step of the first recipe node that is the target or below it.
    const step = recipe.nodes.find((n) => n.path === target || isAbove(target, n.path)) ?? recipe.nodes[0];
    const list = repoSteps.get(step.path) ?? [];
    list.push({ id: repo.id, node: target, text: repo.text, reason: current === undefined ? 'new' : 'changed' });
    repoSteps.set(step.path, list);
  }

  const nodes: NodePlan[] = recipe.nodes.map((node) => {
    const snapshot = state.nodes[node.path];
    const desired = input.desired[node.path] ?? {};
    const updateConfig: NodePlan['updateConfig'] = [];
    if (snapshot) {
      if (snapshot.alias !== node.alias) {
        throw new RedpakError(
          'schema',
          `node ${node.path} exists with alias ${snapshot.alias}, the recipe says ${node.alias}`,
          {
            at: node.at,
            hint: 'aliases are kept by apply: fix the recipe, or remove the node to recreate it',
          },
        );
      }
      if (desired.normal !== undefined && desired.normal !== snapshot.normal) updateConfig.push('normal');
      if (desired.admin !== undefined && desired.admin !== snapshot.admin) updateConfig.push('admin');
    }
    const ancestorPackages = ancestorsOf(node.path, input, implied).flatMap((a) =>
      (state.nodes[a]?.packages ?? [])
        .filter((p) => !IGNORED_PACKAGES.has(p.name))
        .map((pkg) => ({ node: state.nodes[a].alias, pkg })),
    );
    const { jobs, packages } = packageJobs(node, snapshot?.packages ?? [], ancestorPackages, input.frozen?.[node.path]);
    // The family root gets the host's capabilities: with the node creation, or registered apart.
    const root = topOf(node.path);
    let hostProvides: NodePlan['hostProvides'];
    if (recipe.nodes.find((n) => topOf(n.path) === root) === node) {
      const rootCreated = !state.nodes[root];
      if (rootCreated && recipe.hostCapabilities.length > 0) hostProvides = { how: 'register', root };
      else if (rootCreated && (recipe.hostProvides ?? input.defaultHostProvides))
        hostProvides = { how: 'with-create', root };
      else if (
        !rootCreated &&
        !state.nodes[root].hasHostProvides &&
        (recipe.hostProvides === true || recipe.hostCapabilities.length > 0)
      )
        hostProvides = { how: 'register', root };
    }
    return {
      path: node.path,
      alias: node.alias,
      create: !snapshot,
      ...(implied.has(node.path) ? { systemNode: implied.get(node.path) } : {}),
      updateConfig,
      // A disabled node takes no package: enabled for its transaction, disabled again after.
      enable: !!snapshot && snapshot.state !== 'Enable' && (node.enabled || jobs.length > 0),
      disable: !node.enabled && (!snapshot || snapshot.state === 'Enable' || jobs.length > 0),
      repos: repoSteps.get(node.path) ?? [],
      ...(hostProvides ? { hostProvides } : {}),
      jobs,
      packages,
    };
  });
  const empty = nodes.every(
    (n) =>
      !n.create &&
      !n.updateConfig.length &&
      !n.enable &&
      !n.disable &&
      !n.repos.length &&
      !n.hostProvides &&
      !n.jobs.length,
  );
  return { nodes, empty };
}

/** The plan in words, one line per action (what --dry-run prints). */
export function describePlan(plan: RecipePlan): string[] {
  const lines: string[] = [];
  for (const n of plan.nodes) {
    const name = `${n.alias} (${n.path})`;
    if (n.create)
      lines.push(`create node ${name}${n.systemNode ? ` with the system node ${n.systemNode} above it` : ''}`);
    if (n.updateConfig.length) lines.push(`rewrite the ${n.updateConfig.join(' and ')} config of ${name}`);
    if (n.enable) lines.push(`enable ${name}`);
    for (const r of n.repos)
      lines.push(`write repository ${r.id} in ${r.node}/etc/yum.repos.d/${r.id}.repo (${r.reason})`);
    if (n.hostProvides) lines.push(`register the host's capabilities in the family root ${n.hostProvides.root}`);
    for (const p of n.packages) lines.push(`${p.action} ${p.what} in ${name}: ${p.reason}`);
  }
  for (const n of [...plan.nodes].reverse()) if (n.disable) lines.push(`disable ${n.alias} (${n.path})`);
  return lines;
}
