/**
 * A node's repositories: repolist and repoinfo (what is configured and enabled, metadata
 * state), config-manager --add-repo, makecache and clean.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addRepoFile,
  cleanCache,
  solvCacheDir,
  syncRepos,
  type AddedRepoFile,
  type CleanKind,
  type CleanOutcome,
  matchesRepoGlob,
  type SyncedRepo,
} from './repos.js';
import { query } from './solver.js';
import { type CommonOptions, cacheOf, loadedLine, openFamily, reposOf, withGpgPolicy, withLock } from './family-ops.js';

export interface RepoStatus {
  id: string;
  name: string;
  enabled: boolean;
  baseurl: string[];
  /** Where the mirrors come from when baseurl is empty. */
  mirrorlist?: string;
  metalink?: string;
  gpgcheck: boolean;
  priority: number;
  /** Among repositories of one priority, the cheaper is preferred. */
  cost: number;
  /** Globs on package names the repository does not offer, and (when not empty) the only ones it offers. */
  excludepkgs: string[];
  includepkgs: string[];
  /** Left out with a warning when its metadata cannot be fetched. */
  skipIfUnavailable: boolean;
  /** Seconds, null for never. */
  metadataExpire: number | null;
  /** The .repo file, and the node whose etc/yum.repos.d holds it. */
  file: string;
  definedBy: string;
}

/** dnf repolist: the repositories the node uses (its own, else the closest ancestor's). */
export function repolist(options: CommonOptions & { all?: boolean }): RepoStatus[] {
  const pf = openFamily(options);
  const repos = withGpgPolicy(pf, options);
  return repos
    .filter((r) => options.all || r.enabled)
    .map((r) => ({
      id: r.id,
      name: r.name,
      enabled: r.enabled,
      baseurl: r.baseurl,
      ...(r.mirrorlist ? { mirrorlist: r.mirrorlist } : {}),
      ...(r.metalink ? { metalink: r.metalink } : {}),
      gpgcheck: r.gpgcheck,
      priority: r.priority,
      cost: r.cost,
      excludepkgs: r.excludepkgs,
      includepkgs: r.includepkgs,
      skipIfUnavailable: r.skipIfUnavailable,
      metadataExpire: r.metadataExpire,
      file: r.file,
      definedBy: r.definedBy,
    }));
}

/**
 * dnf config-manager --add-repo URL: a `.repo` file fetched from URL, or a repository with URL as
 * its baseurl, added to the node's own etc/yum.repos.d (under the family lock).
 */
export async function addRepo(options: CommonOptions & { url: string; id?: string }): Promise<AddedRepoFile> {
  const pf = openFamily(options);
  return withLock(pf, options, `config-manager --add-repo ${options.url}`, () =>
    addRepoFile(pf, options.url, options.id),
  );
}

/** dnf makecache: fetch the metadata of every enabled repository into the node's cachedir. */
export async function makecache(
  options: CommonOptions,
): Promise<{ cacheDir: string; repos: { id: string; baseurl: string; fetched: boolean }[] }> {
  const pf = openFamily(options);
  return withLock(pf, options, 'makecache', async () => {
    const synced = await syncRepos(reposOf(pf, options), cacheOf(pf), options);
    return {
      cacheDir: pf.cacheDir,
      repos: synced.map((s) => ({ id: s.repo.id, baseurl: s.baseurl, fetched: s.fetched })),
    };
  });
}

/** dnf clean KIND (default all): drop cached metadata, packages or parsed copies of the node's repositories. */
export async function clean(
  options: CommonOptions & { kind?: CleanKind },
): Promise<{ cacheDir: string; kind: CleanKind } & CleanOutcome> {
  const pf = openFamily(options);
  const kind = options.kind ?? 'all';
  return withLock(pf, options, `clean ${kind}`, async () => ({
    cacheDir: pf.cacheDir,
    kind,
    ...(await cleanCache(cacheOf(pf), reposOf(pf, options), kind)),
  }));
}

export interface RepoDetail extends RepoStatus {
  /** Enabled repositories: packages in the metadata, their total download size, the newest metadata timestamp. */
  packages?: number;
  size?: number;
  updated?: string;
  /** When the metadata in use was fetched, and from which baseurl. */
  fetchedAt?: string;
  metadataFrom?: string;
}

/** dnf repoinfo: the repositories (`ids`: ids or globs) with their metadata's package count, size and age. */
export async function repoinfo(options: CommonOptions & { all?: boolean; ids?: string[] }): Promise<RepoDetail[]> {
  const statuses = repolist({ ...options, all: options.all || Boolean(options.ids?.length) }).filter(
    (r) => !options.ids?.length || options.ids.some((glob) => matchesRepoGlob(r.id, glob)),
  );
  const enabled = statuses.filter((r) => r.enabled).map((r) => r.id);
  if (enabled.length === 0) return statuses;
  const pf = openFamily(options);
  const synced = await syncRepos(
    reposOf(pf, options).filter((r) => enabled.includes(r.id)),
    cacheOf(pf),
    options,
  );
  for (const s of synced) options.onDetail?.(loadedLine(s));
  const packages = await query(
    { node: pf.nodeRoot, ancestors: [], repos: synced.map((s) => s.solver), solvCache: solvCacheDir(pf.cacheDir) },
    { scope: 'available' },
  );
  return statuses.map((r) => {
    const s = synced.find((x) => x.repo.id === r.id);
    if (!s) return r;
    const mine = packages.filter((p) => p.repo === r.id);
    return {
      ...r,
      packages: mine.length,
      size: mine.reduce((n, p) => n + (p.size ?? 0), 0),
      ...metadataUpdated(s),
      fetchedAt: new Date(s.fetchedAt).toISOString(),
      metadataFrom: s.baseurl,
    };
  });
}

/** The newest timestamp repomd.xml gives its files (dnf's "Repo-updated"). */
function metadataUpdated(s: SyncedRepo): { updated?: string } {
  const xml = readFileSync(join(s.solver.dir, 'repodata/repomd.xml'), 'utf8');
  const stamps = [...xml.matchAll(/<timestamp>\s*(\d{1,12})\s*<\/timestamp>/g)].map((m) => Number(m[1]));
  return stamps.length ? { updated: new Date(Math.max(...stamps) * 1000).toISOString() } : {};
}
