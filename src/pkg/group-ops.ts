/**
 * Package groups (comps) of a node's repositories: group list and info, and the jobs of a group
 * install or remove (pkg/transactions.ts runs them; the node's group record says what it has).
 */
import { RedpakError } from '../errors.js';
import type { PackageFamily } from './family-context.js';
import { syncRepos } from './repos.js';
import { queryPackages } from './installed.js';
import type { SolverJob } from './solver.js';
import { readGroupRecord, type GroupChange, type InstalledGroup } from './group-record.js';
import { groupInstallNames, matchGroups, mergeComps, repoGroups, type CompsGroup } from './comps.js';
import { closestWord } from '../closest-word.js';
import { type CommonOptions, cacheOf, loadedLine, openFamily, reposOf } from './family-ops.js';
import { runQuery } from './queries.js';

/** A group as `group list` and `group info` show it. */
export interface GroupStatus {
  id: string;
  name: string;
  description: string;
  uservisible: boolean;
  /** Installed in the node (the node's group record names it). */
  installed: boolean;
  /** The repositories whose comps define it; empty for an installed group no repository has any more. */
  repos: string[];
  /** group info: its packages, with their type (mandatory, default, optional, conditional). */
  packages?: CompsGroup['packages'];
  /** group info of an installed group: the packages its installation brought into the node. */
  installedPackages?: string[];
}

/** The groups of the node's repositories (merged by id, by repository priority) and the node's record. */
async function loadGroups(
  options: CommonOptions,
): Promise<{ pf: PackageFamily; groups: CompsGroup[]; record: Record<string, InstalledGroup> }> {
  const pf = openFamily(options);
  const synced = await syncRepos(reposOf(pf, options), cacheOf(pf), options);
  for (const s of synced) options.onDetail?.(loadedLine(s));
  const ordered = [...synced].sort((a, b) => a.repo.priority - b.repo.priority);
  return { pf, groups: mergeComps(ordered.map(repoGroups)), record: readGroupRecord(pf.nodeRoot) };
}

function statusOf(g: CompsGroup | undefined, installed: InstalledGroup | undefined): GroupStatus {
  const id = g?.id ?? installed?.id ?? '';
  return {
    id,
    name: g?.name ?? installed?.name ?? id,
    description: g?.description ?? '',
    uservisible: g?.uservisible ?? true,
    installed: installed !== undefined,
    repos: g?.repos ?? [],
  };
}

/** A group pattern that matched nothing: a package error naming it, with the closest ids. */
function noGroup(pf: PackageFamily, pattern: string, ids: readonly string[], installed: boolean): RedpakError {
  const closest = closestWord(pattern, ids);
  const where = installed ? 'among the installed groups' : 'in the repositories';
  const list = `\`redwrap-dnf --redpath ${pf.node.path} group list ${installed ? '--installed' : '--hidden'}\` lists them`;
  return new RedpakError('package', `no group matches '${pattern}' ${where} of node ${pf.node.path}`, {
    hint: closest ? `did you mean '${closest}'? (${list})` : list,
  });
}

/**
 * The groups the patterns name (id or name, globs), each once, in the order named; a pattern that
 * names none is an error suggesting the closest of `suggested` ids.
 */
function chooseGroups<G extends Pick<CompsGroup, 'id' | 'name'>>(
  pf: PackageFamily,
  candidates: readonly G[],
  patterns: readonly string[],
  suggested: { ids: readonly string[]; installed: boolean },
): G[] {
  const chosen: G[] = [];
  for (const pattern of patterns) {
    const matched = matchGroups(candidates, pattern);
    if (matched.length === 0) throw noGroup(pf, pattern, suggested.ids, suggested.installed);
    for (const g of matched) if (!chosen.some((c) => c.id === g.id)) chosen.push(g);
  }
  return chosen;
}

/**
 * dnf group list: the groups of the node's repositories, and the groups installed in the node.
 * Hidden groups (uservisible false) only with `hidden` or when a pattern names them.
 */
export async function groupList(
  options: CommonOptions & { patterns?: string[]; installed?: boolean; available?: boolean; hidden?: boolean },
): Promise<GroupStatus[]> {
  const { groups, record } = await loadGroups(options);
  const all = [
    ...groups.map((g) => statusOf(g, record[g.id])),
    ...Object.values(record)
      .filter((r) => !groups.some((g) => g.id === r.id))
      .map((r) => statusOf(undefined, r)),
  ];
  const patterns = options.patterns ?? [];
  return all.filter(
    (g) =>
      (patterns.length === 0
        ? options.hidden || g.uservisible
        : patterns.some((p) => matchGroups([g], p).length > 0)) &&
      (!options.installed || g.installed) &&
      (!options.available || !g.installed),
  );
}

/** dnf group info: each group a pattern names (id or name, globs), with its packages; an unknown one is an error. */
export async function groupInfo(options: CommonOptions & { patterns: string[] }): Promise<GroupStatus[]> {
  const { pf, groups, record } = await loadGroups(options);
  // An installed group no repository has any more still has its record.
  const gone = Object.values(record).filter((r) => !groups.some((g) => g.id === r.id));
  const chosen = chooseGroups(pf, [...groups, ...gone], options.patterns, {
    ids: groups.map((g) => g.id),
    installed: false,
  });
  return chosen.map((g) => {
    const installed = record[g.id];
    const comps = groups.find((c) => c.id === g.id);
    return {
      ...statusOf(comps, installed),
      packages: comps?.packages ?? [],
      ...(installed ? { installedPackages: installed.packages } : {}),
    };
  });
}

/**
 * The install jobs of groups: their mandatory and default packages (optional ones with
 * `withOptional`, conditional ones whose package the family has or gets). What an ancestor has
 * is left to it; a package no repository has is skipped with a warning, as dnf does.
 */
export async function groupInstallJobs(
  options: CommonOptions,
  patterns: readonly string[],
  withOptional: boolean,
): Promise<{ jobs: SolverJob[]; change: GroupChange }> {
  // The transaction that follows tells the repositories it loads (-v): once is enough.
  const quiet = { ...options, onDetail: undefined };
  const { pf, groups } = await loadGroups(quiet);
  const chosen = chooseGroups(pf, groups, patterns, { ids: groups.map((g) => g.id), installed: false });
  const { packages: family } = await runQuery(quiet, { scope: 'family' }, false);
  const present = new Set(family.map((p) => p.name));
  const inAncestors = new Set(family.filter((p) => p.node !== pf.node.path).map((p) => p.name));
  const wanted = chosen.map((g) => ({ g, names: groupInstallNames(g, { withOptional, present }) }));
  const allNames = [...new Set(wanted.flatMap((w) => w.names))];
  const { packages: offered } = allNames.length
    ? await runQuery(quiet, { scope: 'available', names: allNames }, true)
    : { packages: [] };
  const available = new Set(offered.map((p) => p.name));
  const jobs: SolverJob[] = [];
  for (const name of allNames) {
    if (inAncestors.has(name)) {
      options.onDetail?.(`group package ${name}: an ancestor node has it`);
      continue;
    }
    if (!present.has(name) && !available.has(name)) {
      const owners = wanted.filter((w) => w.names.includes(name)).map((w) => w.g.id);
      options.onWarning?.(`no match for package ${name} of group ${owners.join(', ')}: skipped`);
      continue;
    }
    jobs.push({ op: 'install', what: name });
  }
  const taken = new Set(jobs.map((j) => j.what));
  return {
    jobs,
    change: {
      kind: 'install',
      groups: wanted.map((w) => ({ id: w.g.id, name: w.g.name, members: w.names.filter((n) => taken.has(n)) })),
    },
  };
}

/**
 * The erase jobs of removing installed groups: the packages their installation brought in that no
 * other installed group has, that the user has not asked for by name since, and that no other
 * package of the node requires (dnf's group remove). The record names only plain package names,
 * and only those the node has installed are taken.
 */
export async function groupRemoveJobs(
  options: CommonOptions,
  patterns: readonly string[],
): Promise<{ jobs: SolverJob[]; change: GroupChange }> {
  const pf = openFamily(options);
  const record = readGroupRecord(pf.nodeRoot);
  const installed = Object.values(record);
  const ids = chooseGroups(pf, installed, patterns, { ids: installed.map((r) => r.id), installed: true }).map(
    (r) => r.id,
  );
  const kept = new Set(installed.filter((r) => !ids.includes(r.id)).flatMap((r) => [...r.packages, ...r.members]));
  const own = new Set((await queryPackages(pf.nodeRoot)).map((p) => p.name));
  const candidates = new Set(ids.flatMap((id) => record[id]?.packages ?? []).filter((n) => own.has(n) && !kept.has(n)));
  const requirers = new Map<string, string[]>();
  for (const name of candidates) {
    const { packages } = await runQuery(options, { scope: 'installed', whatrequires: name }, false);
    requirers.set(
      name,
      packages.map((p) => p.name).filter((n) => n !== name),
    );
  }
  // A package another package of the node needs stays, and so does what it needs among them.
  let changed = true;
  while (changed) {
    changed = false;
    for (const name of candidates) {
      const outside = (requirers.get(name) ?? []).find((r) => !candidates.has(r));
      if (outside === undefined) continue;
      options.onDetail?.(`group package ${name} stays: ${outside} requires it`);
      candidates.delete(name);
      changed = true;
    }
  }
  return { jobs: [...candidates].map((what) => ({ op: 'erase', what })), change: { kind: 'remove', ids } };
}
