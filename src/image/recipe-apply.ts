/**
 * redmanager apply as a library: read the recipe, read what is on disk, plan (recipe-plan.ts),
 * then apply node by node, parents first. Each node's step is all or nothing: creation, config
 * rewrite, repository files and its one package transaction (src/pkg/transactions.ts, which holds the
 * family lock and stages rpm's work); a failure undoes that node's step and stops, nodes applied
 * before it stay. Then the lock file is written (or, with `frozen`, the nodes checked against it).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix, resolve } from 'node:path';
import { RedpakError } from '../errors.js';
import type { HostFacts } from '../config/expand.js';
import { parseNodeConfig } from '../config/parse.js';
import { canonicalConfigObject } from '../config/serialize.js';
import { createNode, resolveTemplate, setNodeState, templateDirs } from '../node/factory.js';
import { ADMIN_CONFIG, configPath, NORMAL_CONFIG, REPOS_DIR, statusPath, Sysroot } from '../node/layout.js';
import { isNodeDir, loadFamily, loadNode } from '../node/load.js';
import { FsTransaction } from '../system/fs-transaction.js';
import { cacheDirOf, type PackageFamily } from '../pkg/family-context.js';
import { registerHost, transactJobs, type TransactionResult } from '../pkg/manager.js';
import { createPackageNode } from '../pkg/node-setup.js';
import { acquireFamilyLock } from '../pkg/lock.js';
import { nodeRepos, repoCacheDir, syncRepos, type SyncedRepo } from '../pkg/repos.js';
import { hasRpmDb, HOST_PROVIDES_PACKAGE, type InstalledPackage } from '../pkg/rpm.js';
import { queryPackages } from '../pkg/installed.js';
import { readRecipe, type Recipe, type RecipeNode } from './recipe.js';
import {
  defaultLockPath,
  lockDifferences,
  lockedFiles,
  readLock,
  repomdInfo,
  repositoryIndex,
  writeLock,
  LOCK_VERSION,
  type LockFile,
  type LockNode,
} from './recipe-lock.js';
import {
  describePlan,
  IGNORED_PACKAGES,
  packageJobs,
  planRecipe,
  type DesiredConfig,
  type FamilyState,
  type LockedPackageFile,
  type NodePlan,
  type NodeSnapshot,
  type PackageState,
} from './recipe-plan.js';
import { present } from '../present.js';

export interface ApplyOptions {
  /** The recipe file. */
  recipe: string;
  sysroot?: string;
  /** Plan only: change nothing, write no lock. */
  dryRun?: boolean;
  /** Install exactly the lock file's packages from local files; no repository is read. */
  frozen?: boolean;
  /** Default: RECIPE.lock.yaml next to the recipe. */
  lockFile?: string;
  /** Directories searched for the locked .rpm files (--frozen). */
  mirrors?: string[];
  templateDir?: string;
  lockWait?: number;
  cwd?: string;
  host: HostFacts;
  /** Progress, one line per step done. */
  onLine?: (line: string) => void;
}

export interface AppliedNode {
  path: string;
  alias: string;
  created: boolean;
  /** System node created above it. */
  systemNode?: string;
  configUpdated: ('normal' | 'admin')[];
  /** State change made: enabled before its packages, disabled after every node's. */
  state?: 'enabled' | 'disabled';
  repos: string[];
  hostProvides: boolean;
  /** The node's package transaction, when it had one. */
  transaction?: {
    status: TransactionResult['status'];
    historyId?: number;
    packages: { action: string; nevra: string; repo: string }[];
  };
}

export interface ApplyResult {
  recipe: string;
  /** The sysroot, '/' for the running system. */
  root: string;
  mode: 'apply' | 'dry-run' | 'frozen';
  /** Whether any node changed (false: a second apply of the same recipe). */
  changed: boolean;
  /** The plan in words (what --dry-run prints). */
  plan: string[];
  nodes: AppliedNode[];
  lock: { file: string; written: boolean; nodes: number; packages: number };
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// State

function packageState(p: InstalledPackage): PackageState {
  return {
    name: p.name,
    evr: `${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}`,
    nevra: p.nevra,
    provides: p.provides.map((d) => d.name),
    requires: p.requires.filter((r) => !r.name.startsWith('rpmlib(')).map((r) => r.name),
    files: p.files.map((f) => f.path),
  };
}

const canonical = (text: string, file: string, kind: 'normal' | 'admin'): string => {
  const { headers: _headers, ...rest } = canonicalConfigObject(parseNodeConfig(text, file, kind));
  return JSON.stringify(rest);
};

async function snapshot(sysroot: Sysroot, path: string, repoIds: string[]): Promise<NodeSnapshot | undefined> {
  const hostPath = sysroot.toHost(path);
  if (!isNodeDir(hostPath)) return undefined;
  const node = present(loadNode(sysroot, path, { admin: true }), `node ${path}`);
  const packages = await queryPackages(hostPath);
  const repoFiles: Record<string, string> = {};
  for (const id of repoIds) {
    const file = join(hostPath, REPOS_DIR, `${id}.repo`);
    if (existsSync(file)) repoFiles[id] = readFileSync(file, 'utf8');
  }
  const text = (kind: 'normal' | 'admin') => {
    const file = configPath(hostPath, kind);
    return file ? canonical(readFileSync(file, 'utf8'), file, kind) : undefined;
  };
  return {
    path,
    alias: node.alias,
    state: node.status.state,
    ...(text('normal') !== undefined ? { normal: text('normal') } : {}),
    ...(text('admin') !== undefined ? { admin: text('admin') } : {}),
    packages: packages.map(packageState),
    hasHostProvides: packages.some((p) => p.name === HOST_PROVIDES_PACKAGE),
    repoFiles,
  };
}

/** The recipe's nodes, their ancestors and the repository nodes, as they are on disk. */
export async function readState(recipe: Recipe, sysroot: Sysroot): Promise<FamilyState> {
  const paths = new Set<string>();
  for (const n of recipe.nodes) for (let p = n.path; p !== '/'; p = posix.dirname(p)) paths.add(p);
  for (const r of recipe.repositories) if (r.node) paths.add(r.node);
  const ids = recipe.repositories.map((r) => r.id);
  const nodes: Record<string, NodeSnapshot> = {};
  for (const p of paths) {
    const s = await snapshot(sysroot, p, ids);
    if (s) nodes[p] = s;
  }
  return { nodes };
}

/** What the recipe says a node's configs should be (canonical, without headers). */
export function desiredConfigs(
  recipe: Recipe,
  options: { templateDir?: string; host: HostFacts },
): Record<string, DesiredConfig> {
  const dir = templateDirs(options);
  const fromTemplate = (name: string, kind: 'normal' | 'admin') => {
    const file = resolveTemplate(name, kind, dir);
    return canonical(readFileSync(file, 'utf8'), file, kind);
  };
  const out: Record<string, DesiredConfig> = {};
  for (const n of recipe.nodes) {
    const d: DesiredConfig = {};
    if (n.config) d.normal = canonical(n.config.text, n.config.at.file, 'normal');
    else if (n.template) d.normal = fromTemplate(n.template, 'normal');
    if (n.configAdmin) d.admin = canonical(n.configAdmin.text, n.configAdmin.at.file, 'admin');
    else if (!n.config) {
      const template = n.templateAdmin ?? n.template;
      if (template) d.admin = fromTemplate(template, 'admin');
    }
    out[n.path] = d;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Applying

function nodeFailure(error: unknown, node: RecipeNode, done: string[]): RedpakError {
  const e = error instanceof RedpakError ? error : new RedpakError('io', (error as Error).message, { cause: error });
  const before = done.length ? ` Nodes applied before it stay applied: ${done.join(', ')}.` : '';
  return new RedpakError(
    e.code,
    `node ${node.alias} (${node.path}): ${e.message}\nNothing of node ${node.alias} was changed.${before}`,
    {
      ...(e.at ? { at: e.at } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
      cause: e,
    },
  );
}

interface StepContext {
  recipe: Recipe;
  sysroot: Sysroot;
  options: ApplyOptions;
  scratch: string;
  frozen?: Record<string, LockedPackageFile[]>;
}

/** Writes an inline config to a scratch file the node factory reads. */
function inlineFile(ctx: StepContext, node: RecipeNode, kind: 'normal' | 'admin'): string | undefined {
  const inline = kind === 'normal' ? node.config : node.configAdmin;
  if (!inline) return undefined;
  const file = join(ctx.scratch, `${node.alias}-${kind}.yaml`);
  writeFileSync(file, inline.text);
  return file;
}

async function applyNode(ctx: StepContext, node: RecipeNode, plan: NodePlan, applied: AppliedNode): Promise<void> {
  const { sysroot, options } = ctx;
  const hostPath = sysroot.toHost(node.path);
  const undo: (() => void)[] = [];
  const tx = new FsTransaction();
  const keep = (file: string) => {
    const before = existsSync(file) ? readFileSync(file) : undefined;
    undo.push(() => (before === undefined ? rmSync(file, { force: true }) : writeFileSync(file, before)));
  };
  const factoryRequest = {
    redpath: node.path,
    sysroot: options.sysroot,
    alias: node.alias,
    template: node.template,
    templateAdmin: node.templateAdmin,
    config: inlineFile(ctx, node, 'normal'),
    configAdmin: inlineFile(ctx, node, 'admin'),
    systemNode: node.systemNode,
    templateDir: options.templateDir,
    host: options.host,
    tool: 'redmanager apply',
  };
  try {
    if (plan.enable) {
      keep(statusPath(hostPath));
      setNodeState({
        redpath: node.path,
        sysroot: options.sysroot,
        state: 'Enable',
        host: options.host,
        tool: 'redmanager apply',
      });
      applied.state = 'enabled';
    }
    if (plan.create) {
      const created = await createPackageNode({
        ...factoryRequest,
        hostProvides: plan.hostProvides?.how === 'with-create',
      });
      undo.push(() => {
        for (const n of [...created.nodes].reverse())
          if (n.action === 'created') rmSync(n.hostPath, { recursive: true, force: true });
      });
      applied.created = true;
      if (plan.systemNode) applied.systemNode = plan.systemNode;
      if (created.hostProvides) applied.hostProvides = true;
      options.onLine?.(
        `created node ${node.alias} (${node.path})${plan.systemNode ? ` and the system node ${plan.systemNode}` : ''}`,
      );
    } else if (plan.updateConfig.length) {
      for (const f of [NORMAL_CONFIG, ADMIN_CONFIG]) keep(join(hostPath, f));
      keep(statusPath(hostPath));
      createNode({ ...factoryRequest, update: true });
      applied.configUpdated = plan.updateConfig;
      options.onLine?.(`rewrote the ${plan.updateConfig.join(' and ')} config of ${node.alias}`);
    }
    for (const repo of plan.repos) {
      tx.writeFile(join(sysroot.toHost(repo.node), REPOS_DIR, `${repo.id}.repo`), repo.text);
      applied.repos.push(repo.id);
      options.onLine?.(`wrote repository ${repo.id} in ${repo.node}`);
    }
    if (plan.hostProvides?.how === 'register') {
      const r = await registerHost({
        redpath: plan.hostProvides.root,
        sysroot: options.sysroot,
        host: options.host,
        extra: ctx.recipe.hostCapabilities,
        detect: ctx.recipe.hostProvides !== false,
        lockWait: options.lockWait,
      });
      applied.hostProvides = true;
      options.onLine?.(`registered ${r.provides.length} host capabilities in ${r.node}`);
    }
    // The package jobs from the state now: earlier nodes of this run may have brought dependencies.
    const fresh = await readNodeAndAncestors(ctx, node);
    const { jobs } = packageJobs(node, fresh.own, fresh.ancestors, ctx.frozen?.[node.path]);
    if (jobs.length) {
      const result = await transactJobs({
        redpath: node.path,
        sysroot: options.sysroot,
        host: options.host,
        jobs,
        command: `apply ${basename(ctx.recipe.file)}${options.frozen ? ' --frozen' : ''}`,
        noRepoFiles: options.frozen,
        lockWait: options.lockWait,
      });
      applied.transaction = {
        status: result.status,
        ...(result.historyId !== undefined ? { historyId: result.historyId } : {}),
        packages: result.packages.map((p) => ({ action: p.action, nevra: p.nevra, repo: p.repo })),
      };
      for (const p of result.packages) options.onLine?.(`${p.action} ${p.nevra} in ${node.alias}`);
    }
    if (ctx.frozen) {
      const own = (await queryPackages(hostPath))
        .filter((p) => !IGNORED_PACKAGES.has(p.name))
        .map((p) => p.nevra)
        .sort();
      const locked = (ctx.frozen[node.path] ?? []).map((f) => f.nevra).sort();
      if (JSON.stringify(own) !== JSON.stringify(locked)) {
        throw new RedpakError(
          'package',
          `--frozen: node ${node.alias} ended with ${own.join(', ') || 'no package'}, the lock has ${locked.join(', ') || 'none'}`,
        );
      }
    }
  } catch (error) {
    tx.rollback();
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // best effort: keep undoing
      }
    }
    throw error;
  }
}

async function readNodeAndAncestors(
  ctx: StepContext,
  node: RecipeNode,
): Promise<{ own: PackageState[]; ancestors: { node: string; pkg: PackageState }[] }> {
  const own = (await queryPackages(ctx.sysroot.toHost(node.path))).map(packageState);
  const ancestors: { node: string; pkg: PackageState }[] = [];
  for (let dir = posix.dirname(node.path); dir !== '/'; dir = posix.dirname(dir)) {
    const hostPath = ctx.sysroot.toHost(dir);
    if (!isNodeDir(hostPath)) continue;
    const alias = present(loadNode(ctx.sysroot, dir, { admin: false }), `node ${dir}`).alias;
    for (const p of await queryPackages(hostPath))
      if (!IGNORED_PACKAGES.has(p.name)) ancestors.push({ node: alias, pkg: packageState(p) });
  }
  return { own, ancestors };
}

// ---------------------------------------------------------------------------------------------
// Lock

async function syncedFor(
  path: string,
  sysroot: Sysroot,
  options: ApplyOptions,
): Promise<{ synced: SyncedRepo[]; cacheDir: string }> {
  // Not openPackageFamily: a node the recipe disables is locked too.
  const family = loadFamily(path, { sysroot, admin: true });
  const repos = nodeRepos({ family, node: family.nodes[0] } as PackageFamily).filter((r) => r.enabled);
  const cacheDir = cacheDirOf(family, sysroot, options.host);
  try {
    return { synced: await syncRepos(repos, cacheDir, { cacheOnly: true }), cacheDir };
  } catch {
    return { synced: await syncRepos(repos, cacheDir), cacheDir };
  }
}

/** The lock of the recipe's nodes as they are now. */
export async function buildLock(
  recipe: Recipe,
  sysroot: Sysroot,
  options: ApplyOptions,
  warnings: string[],
): Promise<LockFile> {
  const nodes: LockNode[] = [];
  for (const node of recipe.nodes) {
    const { synced, cacheDir } = await syncedFor(node.path, sysroot, options);
    const index = await repositoryIndex(synced.map((s) => s.solver));
    const packages = (await queryPackages(sysroot.toHost(node.path))).filter((p) => !IGNORED_PACKAGES.has(p.name));
    nodes.push({
      path: node.path,
      alias: node.alias,
      repositories: synced.map((s) => ({
        id: s.repo.id,
        baseurl: s.baseurl,
        ...repomdInfo(repoCacheDir(cacheDir, s.repo)),
      })),
      packages: packages
        .map((p) => {
          const hit = index[p.nevra];
          let sha256 = hit?.checksum?.startsWith('sha256:') ? hit.checksum.slice('sha256:'.length) : null;
          if (hit && !sha256)
            warnings.push(`${p.nevra} (node ${node.alias}): repository ${hit.repo} gives no sha256 checksum`);
          if (!hit) {
            sha256 = null;
            warnings.push(
              `${p.nevra} (node ${node.alias}) is in no repository of the node: the lock cannot reproduce it`,
            );
          }
          return { nevra: p.nevra, name: p.name, sha256, repo: hit?.repo ?? null, href: hit?.href ?? null };
        })
        .sort((a, b) => (a.nevra < b.nevra ? -1 : a.nevra > b.nevra ? 1 : 0)),
    });
  }
  return {
    version: LOCK_VERSION,
    recipe: { file: basename(recipe.file), sha256: recipe.sha256 },
    redroot: recipe.redroot,
    nodes,
  };
}

// ---------------------------------------------------------------------------------------------
// The command

export async function applyRecipe(options: ApplyOptions): Promise<ApplyResult> {
  const sysroot = Sysroot.open(options.sysroot);
  const recipeFile = resolve(options.cwd ?? process.cwd(), options.recipe);
  const recipe = readRecipe(recipeFile, { sysroot });
  const lockFile = resolve(options.cwd ?? process.cwd(), options.lockFile ?? defaultLockPath(recipeFile));
  const warnings: string[] = [];

  let frozen: Record<string, LockedPackageFile[]> | undefined;
  let lockNodes = 0;
  if (options.frozen) {
    const lock = readLock(lockFile);
    const differences = lockDifferences(recipe, lock);
    if (differences.length) {
      throw new RedpakError(
        'package',
        `the lock file ${lockFile} does not match the recipe ${recipeFile}:\n${differences.map((d) => `  - ${d}`).join('\n')}`,
        {
          hint: 'run redmanager apply without --frozen to update the lock file, or use the lock made from this recipe',
        },
      );
    }
    frozen = lockedFiles(
      lock,
      (options.mirrors ?? []).map((m) => resolve(options.cwd ?? process.cwd(), m)),
    );
    lockNodes = lock.nodes.length;
  }

  const state = await readState(recipe, sysroot);
  const plan = planRecipe({
    recipe,
    state,
    desired: desiredConfigs(recipe, options),
    defaultHostProvides: sysroot.isHost && !hasRpmDb('/'),
    ...(frozen ? { frozen } : {}),
  });
  const lines = describePlan(plan);
  const mode: ApplyResult['mode'] = options.dryRun ? 'dry-run' : options.frozen ? 'frozen' : 'apply';
  const appliedOf = (n: NodePlan): AppliedNode => ({
    path: n.path,
    alias: n.alias,
    created: false,
    configUpdated: [],
    repos: [],
    hostProvides: false,
  });
  const lockInfo = (written: boolean, lock?: LockFile) => ({
    file: lockFile,
    written,
    nodes: lock?.nodes.length ?? lockNodes,
    packages: lock
      ? lock.nodes.reduce((n, x) => n + x.packages.length, 0)
      : Object.values(frozen ?? {}).reduce((n, x) => n + x.length, 0),
  });
  if (options.dryRun) {
    return {
      recipe: recipeFile,
      root: sysroot.dir,
      mode,
      changed: !plan.empty,
      plan: lines,
      nodes: [],
      lock: lockInfo(false),
      warnings,
    };
  }

  // One apply at a time per family: the lock its transactions take is held across the whole apply.
  const top = lockRoot(recipe, sysroot);
  mkdirSync(top.hostPath, { recursive: true });
  const familyLock = await acquireFamilyLock(top.hostPath, {
    command: `redmanager apply ${recipeFile}`,
    waitSeconds: options.lockWait,
    topLabel: top.path,
  });
  const scratch = mkdtempSync(join(tmpdir(), 'redpak-apply-'));
  const ctx: StepContext = { recipe, sysroot, options, scratch, ...(frozen ? { frozen } : {}) };
  const results: AppliedNode[] = [];
  let written = false;
  let recipeLock: LockFile | undefined;
  try {
    for (const [i, node] of recipe.nodes.entries()) {
      const applied = appliedOf(plan.nodes[i]);
      try {
        await applyNode(ctx, node, plan.nodes[i], applied);
      } catch (error) {
        throw nodeFailure(
          error,
          node,
          results.map((r) => r.alias),
        );
      }
      results.push(applied);
    }
    // Locked while every node is still enabled (a disabled node cannot be opened for packages).
    const lock = options.frozen ? undefined : await buildLock(recipe, sysroot, options, warnings);
    for (const [i, node] of [...recipe.nodes.entries()].reverse()) {
      if (!plan.nodes[i].disable) continue;
      setNodeState({
        redpath: node.path,
        sysroot: options.sysroot,
        state: 'Disable',
        host: options.host,
        tool: 'redmanager apply',
      });
      results[i].state = 'disabled';
      options.onLine?.(`disabled ${node.alias} (${node.path})`);
    }
    written = lock ? writeLock(lockFile, lock) : false;
    recipeLock = lock;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    familyLock.release();
  }
  const changed = results.some(
    (r) =>
      r.created ||
      r.configUpdated.length ||
      r.state ||
      r.repos.length ||
      r.hostProvides ||
      r.transaction?.status === 'done',
  );
  return {
    recipe: recipeFile,
    root: sysroot.dir,
    mode,
    changed,
    plan: lines,
    nodes: results,
    lock: lockInfo(written, recipeLock),
    warnings,
  };
}

/**
 * Where the family lock of the recipe's nodes lives: the root-most node at or above the redroot
 * (the top a transaction of theirs locks), else the redroot, which apply creates first.
 */
function lockRoot(recipe: Recipe, sysroot: Sysroot): { path: string; hostPath: string } {
  let top = recipe.redroot;
  // Family discovery skips directories that are not nodes: so does this.
  for (let dir = posix.dirname(top); dir !== '/'; dir = posix.dirname(dir))
    if (isNodeDir(sysroot.toHost(dir))) top = dir;
  return { path: top, hostPath: sysroot.toHost(top) };
}
