/**
 * Repositories of a node (rule 6): `.repo` files in the node's etc/yum.repos.d, else the closest
 * ancestor's; metadata fetched from file:// or http(s):// baseurls into the node's cachedir with
 * every file checked against repomd.xml's checksums; packages fetched and checked against
 * primary.xml's checksums; with gpgcheck, signatures checked against the repository's gpgkey.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedpakError } from '../errors.js';
import { REPOS_DIR } from '../node/layout.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import { download, DownloadError, type DownloadOptions } from './download.js';
import type { PackageFamily } from './family-context.js';
import { familyMain, repoVariables } from './dnf-conf.js';
import { parseMirrors, strongestHashes, type RepomdHash } from './mirrors.js';
import {
  controlCharacter,
  isRepoId,
  parseIni,
  parseRepoFile,
  repoDefaultsOf,
  repoFromSection,
  substituteVariables,
  type IniSection,
  type RepoDefaults,
  type RepoDefinition,
} from './repofile.js';
import { checkSignature, importKey, initDb } from './rpm.js';
import type { SolverRepo, TransactionStep } from './solver.js';
import { present } from '../present.js';

export interface NodeRepo extends RepoDefinition {
  /** Target path of the node whose etc/yum.repos.d defines it. */
  definedBy: string;
  /**
   * Where the repository's own `gpgcheck=0` is (its .repo file, or `--setopt` line 0) when the
   * family requires signature checks: overruled, `gpgcheck` is true.
   */
  gpgcheckOverruled?: { file: string; line: number };
}

function readRepoDir(dir: string): { file: string; sections: IniSection[] }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.repo'))
    .sort()
    .map((f) => ({ file: join(dir, f), sections: parseIni(readFileSync(join(dir, f), 'utf8'), join(dir, f)) }))
    .map(({ file, sections }) => ({ file, sections: sections.filter((s) => s.id !== 'main') }))
    .filter(({ sections }) => sections.length > 0);
}

/**
 * The merged node config's `gpgcheck`: set anywhere in the family (admin or normal file, any
 * node), it holds for the node (src/merge: flags are "first non-zero wins", a descendant cannot
 * set it back). The config files are written by the family's administrators, not by the nodes.
 */
export function familyGpgcheck(pf: Pick<PackageFamily, 'family'>): boolean {
  return pf.family.nodes.some((n) => Boolean(n.admin?.config.gpgcheck || n.normal.config.gpgcheck));
}

/** How the command line changes the repositories (dnf's options of the same names). */
export interface RepoSelection {
  /** --releasever: $releasever of the repository URLs. */
  releasever?: string;
  /** --repo: only these repositories (globs), as if every other one were disabled. */
  onlyRepos?: string[];
  /** --disablerepo, then --enablerepo (globs on the id). */
  disableRepos?: string[];
  enableRepos?: string[];
  /** --setopt: `KEY=VALUE` ([main]) or `REPO.KEY=VALUE` (REPO a glob on the id). */
  setopt?: string[];
  /** --exclude: package name globs no repository offers for this run (added to each one's excludepkgs). */
  exclude?: string[];
}

/** Keys whose values are substituted with the variables ($releasever…). */
const SUBSTITUTED = ['name', 'baseurl', 'mirrorlist', 'metalink', 'gpgkey'];

/** A --setopt as a key, value and the repositories it applies to (undefined: [main]). */
function parseSetopt(text: string): { repo?: string; key: string; value: string } {
  const match = /^([^=]+?)\s*=\s*(.*)$/.exec(text);
  if (!match) throw new RedpakError('usage', `--setopt ${JSON.stringify(text)}: expected KEY=VALUE or REPO.KEY=VALUE`);
  const dot = match[1].lastIndexOf('.');
  const key = match[1].slice(dot + 1).toLowerCase();
  return dot < 0 ? { key, value: match[2] } : { repo: match[1].slice(0, dot), key, value: match[2] };
}

/** dnf's globs on repository ids: `*`, `?`, `[…]`. */
export function matchesRepoGlob(id: string, glob: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(id);
}

/**
 * The repositories the node uses: its own `.repo` files, else those of the closest ancestor that
 * has some; each setting a repository leaves out comes from [main] of dnf.conf (dnf-conf.ts). The
 * family's gpgcheck is a floor for the [main] default: no dnf.conf turns it off.
 */
export function nodeRepos(pf: Pick<PackageFamily, 'family'>, selection: RepoSelection = {}): NodeRepo[] {
  const setopts = (selection.setopt ?? []).map(parseSetopt);
  const main = familyMain(pf);
  for (const o of setopts.filter((o) => o.repo === undefined))
    main.set(o.key, { value: o.value, file: '--setopt', line: 0 });
  const vars = repoVariables(pf, main, { releasever: selection.releasever });
  const fromMain = repoDefaultsOf(main);
  const required = familyGpgcheck(pf);
  const defaults: RepoDefaults = { ...fromMain, gpgcheck: required || (fromMain.gpgcheck ?? false) };
  for (const n of pf.family.nodes) {
    const files = readRepoDir(join(n.hostPath, REPOS_DIR));
    if (files.length === 0) continue;
    return files.flatMap(({ file, sections }) =>
      sections.map((section) => {
        for (const o of setopts)
          if (o.repo !== undefined && matchesRepoGlob(section.id, o.repo))
            section.values.set(o.key, { value: o.value, file: '--setopt', line: 0 });
        for (const key of SUBSTITUTED) {
          const entry = section.values.get(key);
          if (!entry) continue;
          entry.value = substituteVariables(entry.value, vars);
          const bad = controlCharacter(entry.value.replace(/\n/g, ' '));
          if (bad)
            throw new RedpakError(
              'schema',
              `${entry.file}:${entry.line}: ${key} of repository "${section.id}" holds a control character (${bad}) once its variables are substituted`,
            );
        }
        const repo = repoFromSection(section, file, defaults);
        // The .repo files are the nodes' own (writable from a node in admin mode): the family's
        // gpgcheck, from its administrators' configs, is a floor under them too.
        const lowered = section.values.get('gpgcheck');
        if (required && !repo.gpgcheck && lowered)
          return {
            ...repo,
            gpgcheck: true,
            gpgcheckOverruled: { file: lowered.file, line: lowered.line },
            definedBy: n.path,
          };
        return { ...repo, definedBy: n.path };
      }),
    );
  }
  return [];
}

/** What `config-manager --add-repo` wrote. */
export interface AddedRepoFile {
  /** The .repo file written in the node's etc/yum.repos.d (host path). */
  file: string;
  /** The repositories it defines. */
  repos: string[];
  /** Repositories of an ancestor the node used until now: a node's own files replace them (rule 6). */
  hidden: string[];
}

/** dnf's id for a repository added by URL: the URL without its scheme, other characters than `[A-Za-z0-9_.:-]` as `_`. */
export function repoIdOfUrl(url: string): string {
  return url
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/[^A-Za-z0-9_.:-]/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * dnf config-manager --add-repo: a URL ending in `.repo` is fetched (file://, http(s)://) and
 * written as it is once it parses; any other URL becomes a repository with that baseurl. Written
 * atomically into the node's etc/yum.repos.d, never over an existing file or repository id.
 */
export async function addRepoFile(pf: PackageFamily, url: string, id?: string): Promise<AddedRepoFile> {
  const bad = controlCharacter(url + (id ?? ''));
  if (bad)
    throw new RedpakError('usage', `config-manager --add-repo: the URL or id holds a control character (${bad})`);
  const dir = join(pf.nodeRoot, REPOS_DIR);
  const inherited = nodeRepos(pf);
  const own = inherited.filter((r) => r.definedBy === pf.node.path);
  let name: string;
  let text: string;
  if (/\.repo$/.test(url) && id === undefined) {
    name = url.slice(url.lastIndexOf('/') + 1);
    const bytes = await fetchBytes(url, 'repository file', transportOf({ sslverify: true, timeout: 30 }), {
      maxBytes: 1024 * 1024,
      deadlineSeconds: DOWNLOAD_LIMITS.smallFileSeconds(),
    });
    text = bytes.toString('utf8');
  } else {
    const repoId = id ?? repoIdOfUrl(url);
    name = `${repoId}.repo`;
    text = `[${repoId}]\nname=${repoId} (added from ${url})\nbaseurl=${url}\nenabled=1\n`;
  }
  if (!/^[A-Za-z0-9_.:-]+\.repo$/.test(name) || name.startsWith('.'))
    throw new RedpakError('usage', `config-manager --add-repo: cannot name a repository file ${JSON.stringify(name)}`, {
      hint: 'give --id ID',
    });
  const defined = parseRepoFile(text, url).map((r) => r.id);
  if (defined.length === 0) throw new RedpakError('schema', `${url}: defines no repository`);
  const file = join(dir, name);
  const taken = defined.filter((d) => own.some((r) => r.id === d));
  if (existsSync(file) || taken.length)
    throw new RedpakError(
      'usage',
      `config-manager --add-repo: node ${pf.node.path} already has ${taken.length ? `repository ${taken.join(', ')}` : file}`,
      { hint: `edit or remove ${existsSync(file) ? file : 'its .repo file'} instead; nothing was written` },
    );
  await mkdir(dir, { recursive: true });
  writeFileAtomic(file, text, { mode: 0o644, exclusive: true });
  return { file, repos: defined, hidden: own.length ? [] : inherited.map((r) => r.id) };
}

/** Where a command's repositories come from. */
export interface RepoSources extends RepoSelection {
  /** Local repository directories (--repo-dir), relative ones taken from `cwd`. */
  repoDirs?: string[];
  /** Ignore the family's .repo files: only `repoDirs`. */
  noRepoFiles?: boolean;
  cwd?: string;
}

/**
 * Every repository a command on the node can use, enabled or not: the family's .repo files
 * (the node's, else the closest ancestor's), then the given directories, named repo-given,
 * repo1-given… in their order; --repo, --disablerepo and --enablerepo applied (a pattern that
 * names no repository is an error, as dnf's); --exclude added to the excludepkgs of each.
 */
export function familyRepos(pf: PackageFamily, sources: RepoSources): NodeRepo[] {
  const base = sources.cwd ?? process.cwd();
  const given = (sources.repoDirs ?? []).map((dir, i) =>
    localRepo(`repo${i === 0 ? '' : i}-given`, resolve(base, dir)),
  );
  const excluded = sources.exclude ?? [];
  const repos = [...(sources.noRepoFiles ? [] : nodeRepos(pf, sources)), ...given].map((r) =>
    excluded.length > 0 ? { ...r, excludepkgs: [...r.excludepkgs, ...excluded] } : r,
  );
  const pick = (flag: string, globs: readonly string[] | undefined, enabled: boolean) => {
    for (const glob of globs ?? []) {
      const hit = repos.filter((r) => matchesRepoGlob(r.id, glob));
      if (hit.length === 0)
        throw new RedpakError('usage', `${flag} ${glob}: no repository of node ${pf.node.path} matches`, {
          hint: `\`redwrap-dnf --redpath ${pf.node.path} repolist --all\` lists them`,
        });
      for (const r of hit) r.enabled = enabled;
    }
  };
  if (sources.onlyRepos?.length) {
    for (const r of repos) r.enabled = false;
    pick('--repo', sources.onlyRepos, true);
  }
  pick(
    '--disablerepo',
    sources.disableRepos?.filter((g) => !isWildcardAll(g)),
    false,
  );
  if (sources.disableRepos?.some(isWildcardAll)) for (const r of repos) r.enabled = false;
  pick('--enablerepo', sources.enableRepos, true);
  return repos;
}

/** `--disablerepo='*'` is valid even when there is no repository. */
function isWildcardAll(glob: string): boolean {
  return glob === '*';
}

/** A repository given directly by its local directory (library callers, the demo). */
export function localRepo(id: string, dir: string, extra: Partial<RepoDefinition> = {}): NodeRepo {
  return {
    id,
    name: id,
    baseurl: [`file://${dir}`],
    enabled: true,
    gpgcheck: false,
    gpgkey: [],
    priority: 99,
    cost: 1000,
    skipIfUnavailable: false,
    excludepkgs: [],
    includepkgs: [],
    metadataExpire: 0,
    sslverify: true,
    timeout: 30,
    extra: {},
    file: '(given)',
    line: 0,
    definedBy: '(given)',
    ...extra,
  };
}

export function repoCacheDir(cacheDir: string, repo: Pick<RepoDefinition, 'id'>): string {
  // The .repo parser refuses such ids; library callers (localRepo) are checked here.
  if (!isRepoId(repo.id))
    throw new RedpakError('schema', `invalid repository id ${JSON.stringify(repo.id)}`, {
      hint: 'letters, digits, "-", "_", ".", ":"; not "." or ".."',
    });
  return join(cacheDir, repo.id);
}

/** The solver's parsed copies of databases and repositories ('@' is never in a repository id). */
export function solvCacheDir(cacheDir: string): string {
  return join(cacheDir, '@solv');
}

// --------------------------------------------------------------------------------------------
// Fetching

/**
 * Limits of what a repository may make us download (a repository is untrusted: an endless or
 * huge answer must not fill the memory, a silent server must not hold the family lock).
 * Overridable from the environment for real repositories that need more.
 */
export const DOWNLOAD_LIMITS = {
  /** repomd.xml: REDPAK_REPOMD_MAX_BYTES, default 16 MiB. */
  repomdBytes: () => envNumber('REDPAK_REPOMD_MAX_BYTES', 16 * 1024 * 1024),
  /** primary/filelists when repomd.xml declares no size: REDPAK_METADATA_MAX_BYTES, default 1 GiB. */
  metadataBytes: () => envNumber('REDPAK_METADATA_MAX_BYTES', 1024 * 1024 * 1024),
  /** Seconds one file may take, whatever the repository's timeout: REDPAK_DOWNLOAD_DEADLINE, default 1800. */
  deadlineSeconds: () => envNumber('REDPAK_DOWNLOAD_DEADLINE', 1800),
  /** repomd.xml and gpg keys are small: at most 300 s (or the deadline above when shorter). */
  smallFileSeconds: () => Math.min(300, envNumber('REDPAK_DOWNLOAD_DEADLINE', 1800)),
};

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new RedpakError('usage', `${name}=${text}: expected a positive number`);
  return value;
}

/** Per-file bounds of one fetch, on top of the repository's transport. */
interface FetchBounds {
  maxBytes: number;
  deadlineSeconds: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

function interrupted(url: string, purpose: string): RedpakError {
  return new RedpakError('package', `download of ${url} (${purpose}) was interrupted`, {
    hint: 'nothing was kept from it; run the command again',
  });
}

/** The cache's record of where and when the metadata was fetched, if it is there and readable. */
function readCacheMeta(file: string): CacheMeta | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CacheMeta;
  } catch {
    return undefined;
  }
}

async function fetchBytes(url: string, purpose: string, transport: Transport, bounds: FetchBounds): Promise<Buffer> {
  if (bounds.signal?.aborted) throw interrupted(url, purpose);
  if (url.startsWith('file://')) {
    const path = fileURLToPath(url);
    try {
      // A fifo or a device would block or never end: regular files only, within the cap.
      const st = await stat(path);
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size > bounds.maxBytes)
        throw new Error(`${st.size} bytes, more than the ${bounds.maxBytes} bytes allowed`);
      return await readFile(path, { signal: bounds.signal });
    } catch (error) {
      if (bounds.signal?.aborted) throw interrupted(url, purpose);
      throw new RedpakError('package', `cannot read ${url} (${purpose}): ${(error as Error).message}`, {
        hint: 'check the baseurl in the .repo file',
      });
    }
  }
  try {
    return await download(url, {
      ...transport,
      maxBytes: bounds.maxBytes,
      deadlineSeconds: bounds.deadlineSeconds,
      signal: bounds.signal,
      onProgress: bounds.onProgress,
    });
  } catch (error) {
    if (!(error instanceof DownloadError)) {
      const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      const tls = /certificate|self[- ]signed|SSL/i.test(cause);
      throw new RedpakError('package', `cannot download ${url} (${purpose}): ${cause}`, {
        hint: tls
          ? 'name the authority that signs the server certificate with sslcacert= in the .repo file'
          : 'check the network and the baseurl in the .repo file, then retry',
      });
    }
    if (error.failure === 'interrupted') throw interrupted(url, purpose);
    if (error.failure === 'too-large') {
      throw new RedpakError('package', `refused ${url} (${purpose}): ${error.message}`, {
        hint: 'the repository is broken or hostile; a real repository that needs more can raise REDPAK_REPOMD_MAX_BYTES / REDPAK_METADATA_MAX_BYTES (docs/packages.md)',
      });
    }
    if (error.failure === 'deadline' || error.failure === 'stalled') {
      throw new RedpakError('package', `download of ${url} (${purpose}) gave up: ${error.message}`, {
        hint: 'retry; a slow but working repository can raise timeout= in its .repo file or REDPAK_DOWNLOAD_DEADLINE (docs/packages.md)',
      });
    }
    if (error.cut)
      throw new RedpakError('package', `download of ${url} was cut (${purpose}): ${error.message}`, { hint: 'retry' });
    throw new RedpakError('package', `cannot download ${url} (${purpose}): ${error.message}`, {
      hint: error.status
        ? 'check the baseurl in the .repo file; `redwrap-dnf makecache` refreshes the metadata'
        : 'retry',
    });
  }
}

/** How a repository is reached over http(s), from its .repo settings. */
type Transport = Pick<DownloadOptions, 'tls' | 'timeoutSeconds'>;

/** `timeout=0` (dnf: no limit) still gives up on a transfer silent for this long, in seconds. */
const LONGEST_STALL = 300;

function transportOf(repo: Pick<RepoDefinition, 'sslcacert' | 'sslverify' | 'timeout'>): Transport {
  const timeoutSeconds = repo.timeout > 0 ? repo.timeout : LONGEST_STALL;
  return { tls: { caFiles: repo.sslcacert ? [repo.sslcacert] : undefined, verify: repo.sslverify }, timeoutSeconds };
}

function join_url(base: string, href: string): string {
  return base.endsWith('/') ? base + href : `${base}/${href}`;
}

/** `sha256:hex` (or `type`, `hex`) check of bytes. */
function verifyChecksum(bytes: Buffer, type: string, expected: string, what: string, hint: string): void {
  const algorithm = type === 'sha' ? 'sha1' : type;
  let actual: string;
  try {
    actual = createHash(algorithm).update(bytes).digest('hex');
  } catch {
    throw new RedpakError('package', `${what}: unsupported checksum type ${type}`);
  }
  if (actual !== expected.toLowerCase()) {
    throw new RedpakError('package', `${what}: checksum mismatch (expected ${type} ${expected}, got ${actual})`, {
      hint,
    });
  }
}

interface RepomdEntry {
  type: string;
  href: string;
  checksumType: string;
  checksum: string;
  /** The size repomd.xml declares for the file as stored (compressed), when it does. */
  size?: number;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** An attribute value as XML means it (entities decoded: `&#46;&#46;` is `..`). */
function xmlText(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return XML_ENTITIES[name] ?? whole;
  });
}

export function parseRepomd(xml: string): RepomdEntry[] {
  const entries: RepomdEntry[] = [];
  for (const match of xml.matchAll(/<data\s+type="([^"]+)"\s*>([\s\S]*?)<\/data>/g)) {
    const body = match[2];
    const checksum = /<checksum\s+type="([^"]+)"\s*>\s*([0-9a-fA-F]+)\s*<\/checksum>/.exec(body);
    const location = /<location\s+href="([^"]+)"/.exec(body);
    const size = /<size>\s*(\d+)\s*<\/size>/.exec(body);
    if (checksum && location) {
      entries.push({
        type: match[1],
        href: xmlText(location[1]),
        checksumType: checksum[1],
        checksum: checksum[2],
        ...(size ? { size: Number(size[1]) } : {}),
      });
    }
  }
  return entries;
}

/**
 * repomd.xml is read twice: here (what is fetched and checked) and by the solver's XML parser
 * (what is loaded from the cache). Both must see the same files, so what a regular expression
 * and an XML parser could read differently is refused: DOCTYPE/ENTITY (entities the parser
 * expands), comments, CDATA, single-quoted attributes, and several locations or blocks of one
 * type. createrepo_c writes none of them.
 */
function assertPlainRepomd(repo: Pick<RepoDefinition, 'id'>, xml: string, source: string): RepomdEntry[] {
  const refuse = (why: string): never => {
    throw new RedpakError('package', `repository ${repo.id}: refused ${source}: ${why}`, {
      hint: 'the repository is broken or hostile; nothing was written',
    });
  };
  const odd = /<!DOCTYPE|<!ENTITY|<!--|<!\[CDATA\[|<(data|location)\b[^>]*='/i.exec(xml);
  if (odd) refuse(`it holds ${JSON.stringify(odd[0])} (not written by createrepo)`);
  const entries = parseRepomd(xml);
  const blocks = xml.match(/<data\b/g)?.length ?? 0;
  const locations = xml.match(/<location\b/g)?.length ?? 0;
  if (blocks !== entries.length || locations !== entries.length)
    refuse(`${blocks} <data> blocks and ${locations} <location> elements for ${entries.length} readable entries`);
  for (const type of WANTED)
    if (entries.filter((e) => e.type === type).length > 1) refuse(`it lists ${type} metadata twice`);
  return entries;
}

/**
 * Why `href` (a repository's word for where a file is, relative to its baseurl) is refused, or
 * undefined when it is a plain relative path that stays under the repository: it is joined to
 * the cache directory (metadata, packages) and to file:// baseurls, so it must not be absolute,
 * climb with `..` (also percent-encoded), hold control characters, backslashes, `?` or `#`.
 */
export function unsafeHref(href: string): string | undefined {
  if (href === '') return 'empty';
  if (controlCharacter(href)) return 'holds a control character';
  let decoded: string;
  try {
    decoded = decodeURIComponent(href);
  } catch {
    return 'is badly percent-encoded';
  }
  for (const form of [href, decoded]) {
    if (controlCharacter(form)) return 'holds a control character';
    if (form.startsWith('/') || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(form)) return 'is absolute';
    if (/[\\?#]/.test(form)) return 'holds a backslash, "?" or "#"';
    if (form.split('/').includes('..')) return 'climbs out with ..';
  }
  return undefined;
}

function assertHref(repo: Pick<RepoDefinition, 'id'>, href: string, source: string): string {
  const why = unsafeHref(href);
  if (why) {
    throw new RedpakError(
      'package',
      `repository ${repo.id}: refused location href ${JSON.stringify(href)} in ${source}: it ${why}`,
      {
        hint: 'a file of a repository must be a relative path under it; the repository is broken or hostile, nothing was written',
      },
    );
  }
  return href;
}

/** In a repository's cache: where its metadata came from and when. */
const CACHE_META_FILE = 'redpak-cache.json';

interface CacheMeta {
  baseurl: string;
  /** The mirrorlist or metalink that named `baseurl`, when it came from one. */
  mirrors?: string;
  fetched: number;
  /** Set by `clean expire-cache`: stale whatever metadata_expire says. */
  expired?: boolean;
}

/** Metadata files we need: libsolv reads primary and filelists; `group` (comps) is read by src/pkg/comps.ts. */
const WANTED = ['primary', 'filelists', 'group'];

export interface SyncOptions {
  /** Refetch even if the cached metadata has not expired. */
  refresh?: boolean;
  /** Never fetch: use the cache (error when there is none). */
  cacheOnly?: boolean;
  now?: number;
  /** Aborts every download at once (SIGINT/SIGTERM); the cache keeps its previous copy. */
  signal?: AbortSignal;
  /** Told one line for each repository left out (skip_if_unavailable) and each mirror dropped. */
  onWarning?: (message: string) => void;
}

export interface SyncedRepo {
  repo: NodeRepo;
  solver: SolverRepo;
  /** The baseurl the metadata came from. */
  baseurl: string;
  /** Whether this sync fetched anything. */
  fetched: boolean;
  /** When the metadata in use was fetched (ms since the epoch). */
  fetchedAt: number;
}

/**
 * Make the repository's metadata available in the cache (fetching it when missing, expired, or
 * asked to), every file checked against repomd.xml. The cache is replaced atomically: a failure
 * leaves the previous copy.
 */
export async function syncRepo(repo: NodeRepo, cacheDir: string, options: SyncOptions = {}): Promise<SyncedRepo> {
  const dir = repoCacheDir(cacheDir, repo);
  const metaFile = join(dir, CACHE_META_FILE);
  const now = options.now ?? Date.now();
  const meta = readCacheMeta(metaFile);
  const solverRepo: SolverRepo = {
    id: repo.id,
    dir,
    priority: repo.priority,
    cost: repo.cost,
    ...(repo.excludepkgs.length ? { excludepkgs: repo.excludepkgs } : {}),
    ...(repo.includepkgs.length ? { includepkgs: repo.includepkgs } : {}),
  };
  const listUrl = repo.baseurl.length === 0 ? (repo.metalink ?? repo.mirrorlist) : undefined;
  const usable =
    meta !== undefined &&
    (listUrl === undefined ? repo.baseurl.includes(meta.baseurl) : meta.mirrors === listUrl) &&
    existsSync(join(dir, 'repodata/repomd.xml'));
  const fresh =
    usable && !meta.expired && (repo.metadataExpire === null || now - meta.fetched < repo.metadataExpire * 1000);
  if (usable && (options.cacheOnly || (fresh && !options.refresh)))
    return { repo, solver: solverRepo, baseurl: meta.baseurl, fetched: false, fetchedAt: meta.fetched };
  if (options.cacheOnly) {
    throw new RedpakError('package', `repository ${repo.id} has no cached metadata in ${dir}`, {
      hint: 'run `redwrap-dnf --redpath NODE makecache` first',
    });
  }
  const { baseurls, repomdHashes } =
    listUrl === undefined ? { baseurls: repo.baseurl, repomdHashes: [] } : await mirrorsOf(repo, listUrl, options);
  const record = (baseurl: string) =>
    JSON.stringify({ baseurl, ...(listUrl ? { mirrors: listUrl } : {}), fetched: now });

  let lastError: unknown;
  for (const baseurl of baseurls) {
    try {
      const repomdUrl = join_url(baseurl, 'repodata/repomd.xml');
      const repomdBytes = await fetchBytes(repomdUrl, `metadata of repository ${repo.id}`, transportOf(repo), {
        maxBytes: DOWNLOAD_LIMITS.repomdBytes(),
        deadlineSeconds: DOWNLOAD_LIMITS.smallFileSeconds(),
        signal: options.signal,
      });
      if (repomdHashes.length) verifyRepomdHash(repo, repomdBytes, repomdHashes, repomdUrl);
      const entries = assertPlainRepomd(repo, repomdBytes.toString('utf8'), repomdUrl);
      // Every href is checked before anything is fetched or written.
      for (const entry of entries.filter((e) => WANTED.includes(e.type))) assertHref(repo, entry.href, repomdUrl);
      if (!entries.some((e) => e.type === 'primary')) {
        throw new RedpakError(
          'package',
          `repository ${repo.id}: ${join_url(baseurl, 'repodata/repomd.xml')} lists no primary metadata`,
        );
      }
      // Unchanged repomd.xml: the cached files are still right (when all there), only the timestamp moves.
      if (
        usable &&
        meta.baseurl === baseurl &&
        readFileSync(join(dir, 'repodata/repomd.xml')).equals(repomdBytes) &&
        entries.filter((e) => WANTED.includes(e.type)).every((e) => existsSync(join(dir, e.href)))
      ) {
        await writeFile(metaFile, record(baseurl));
        return { repo, solver: solverRepo, baseurl, fetched: true, fetchedAt: now };
      }
      await mkdir(cacheDir, { recursive: true });
      const staging = await mkdtemp(join(cacheDir, `.${repo.id}-`));
      try {
        await mkdir(join(staging, 'repodata'), { recursive: true });
        for (const entry of entries.filter((e) => WANTED.includes(e.type))) {
          // The size repomd.xml declares bounds the body (a longer one is refused), else the cap.
          const bytes = await fetchBytes(
            join_url(baseurl, entry.href),
            `${entry.type} metadata of repository ${repo.id}`,
            transportOf(repo),
            {
              maxBytes: entry.size ?? DOWNLOAD_LIMITS.metadataBytes(),
              deadlineSeconds: DOWNLOAD_LIMITS.deadlineSeconds(),
              signal: options.signal,
            },
          );
          verifyChecksum(
            bytes,
            entry.checksumType,
            entry.checksum,
            `repository ${repo.id}: ${entry.href}`,
            `the repository may be in the middle of an update: retry later; \`redwrap-dnf clean\` drops the cache`,
          );
          await writeFile(join(staging, entry.href), bytes);
        }
        await writeFile(join(staging, 'repodata/repomd.xml'), repomdBytes);
        await writeFile(join(staging, CACHE_META_FILE), record(baseurl));
        // Keep already downloaded packages.
        if (existsSync(join(dir, 'packages'))) await rename(join(dir, 'packages'), join(staging, 'packages'));
        const old = `${dir}.old-${process.pid}`;
        if (existsSync(dir)) await rename(dir, old);
        await rename(staging, dir);
        await rm(old, { recursive: true, force: true });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
      return { repo, solver: solverRepo, baseurl, fetched: true, fetchedAt: now };
    } catch (error) {
      // Interrupted: stop, do not try the next baseurl.
      if (options.signal?.aborted) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * The baseurls a mirrorlist or metalink names (fetched each time the metadata is, as dnf does)
 * and, from a metalink, the checksums repomd.xml must match.
 */
async function mirrorsOf(
  repo: NodeRepo,
  listUrl: string,
  options: SyncOptions,
): Promise<{ baseurls: string[]; repomdHashes: RepomdHash[] }> {
  const kind = listUrl === repo.metalink ? 'metalink' : 'mirrorlist';
  const bytes = await fetchBytes(listUrl, `${kind} of repository ${repo.id}`, transportOf(repo), {
    maxBytes: DOWNLOAD_LIMITS.repomdBytes(),
    deadlineSeconds: DOWNLOAD_LIMITS.smallFileSeconds(),
    signal: options.signal,
  });
  const set = parseMirrors(
    bytes.toString('utf8'),
    `${listUrl} (${kind} of repository ${repo.id})`,
    !listUrl.startsWith('file://'),
  );
  for (const d of set.dropped)
    options.onWarning?.(`repository ${repo.id}: mirror ${d.url} of ${listUrl} dropped: ${d.why}`);
  if (set.baseurls.length === 0)
    throw new RedpakError('package', `repository ${repo.id}: ${kind} ${listUrl} names no usable mirror`, {
      hint: `check ${kind}= in ${repo.file}`,
    });
  return { baseurls: set.baseurls, repomdHashes: strongestHashes(set.repomdHashes) };
}

/** repomd.xml must match one of the checksums the metalink gave (the metalink vouches for the mirror). */
function verifyRepomdHash(repo: NodeRepo, bytes: Buffer, hashes: readonly RepomdHash[], url: string): void {
  const type = present(hashes[0], 'a checksum').type;
  const actual = createHash(type).update(bytes).digest('hex');
  if (!hashes.some((h) => h.value === actual))
    throw new RedpakError(
      'package',
      `repository ${repo.id}: ${url} does not match the metalink's ${type} checksum (got ${actual})`,
      { hint: 'the mirror is out of date or hostile; another mirror of the metalink is tried, nothing was written' },
    );
}

/**
 * Sync every enabled repository (the solver's input). A repository with skip_if_unavailable
 * whose metadata cannot be had is left out, and `onWarning` told why in one line.
 */
export async function syncRepos(
  repos: readonly NodeRepo[],
  cacheDir: string,
  options: SyncOptions = {},
): Promise<SyncedRepo[]> {
  const out: SyncedRepo[] = [];
  for (const repo of repos.filter((r) => r.enabled)) {
    try {
      out.push(await syncRepo(repo, cacheDir, options));
    } catch (error) {
      if (!repo.skipIfUnavailable || options.signal?.aborted || !(error instanceof RedpakError)) throw error;
      options.onWarning?.(`repository ${repo.id} skipped (skip_if_unavailable): ${error.message}`);
    }
  }
  return out;
}

/** Remove the cache of the given repositories (and leftovers); returns what was removed. */
/** What `clean` drops, as dnf names it. */
export type CleanKind = 'all' | 'metadata' | 'packages' | 'dbcache' | 'expire-cache';
export const CLEAN_KINDS: readonly CleanKind[] = ['all', 'metadata', 'packages', 'dbcache', 'expire-cache'];

export interface CleanOutcome {
  /** Files and directories removed. */
  removed: string[];
  /** Repositories whose metadata is now expired (fetched again by the next command). */
  expired: string[];
}

/**
 * dnf clean: `all` drops the repositories' caches and the solver's; `metadata` the repository
 * metadata and the solver's parsed copies (downloaded packages stay); `packages` the downloaded
 * packages; `dbcache` the solver's parsed copies; `expire-cache` marks the metadata expired.
 */
export async function cleanCache(
  cacheDir: string,
  repos: readonly NodeRepo[],
  kind: CleanKind = 'all',
): Promise<CleanOutcome> {
  const outcome: CleanOutcome = { removed: [], expired: [] };
  const drop = async (path: string) => {
    if (!existsSync(path)) return;
    await rm(path, { recursive: true, force: true });
    outcome.removed.push(path);
  };
  for (const repo of repos) {
    const dir = repoCacheDir(cacheDir, repo);
    if (kind === 'all') await drop(dir);
    if (kind === 'metadata') for (const entry of ['repodata', CACHE_META_FILE]) await drop(join(dir, entry));
    if (kind === 'packages') await drop(join(dir, 'packages'));
    if (kind === 'expire-cache' && existsSync(join(dir, CACHE_META_FILE))) {
      const meta = JSON.parse(await readFile(join(dir, CACHE_META_FILE), 'utf8')) as CacheMeta;
      await writeFile(join(dir, CACHE_META_FILE), JSON.stringify({ ...meta, expired: true }));
      outcome.expired.push(repo.id);
    }
  }
  if (kind === 'all' || kind === 'metadata' || kind === 'dbcache') await drop(solvCacheDir(cacheDir));
  return outcome;
}

// --------------------------------------------------------------------------------------------
// Packages

export interface FetchPackageOptions {
  onProgress?: (done: number, total: number) => void;
  /** Aborts the download at once; nothing is left in the cache. */
  signal?: AbortSignal;
}

export interface FetchedPackage {
  step: TransactionStep;
  /** Local .rpm path ready for rpm. */
  path: string;
  /** Bytes downloaded by this run (0 when local or cached). */
  downloaded: number;
}

/**
 * Where the package of `step` is on this machine, after downloading it if needed; its checksum
 * is checked against the repository metadata in every case.
 */
export async function fetchPackage(
  step: TransactionStep,
  synced: SyncedRepo | undefined,
  cacheDir: string,
  options: FetchPackageOptions | FetchPackageOptions['onProgress'] = {},
): Promise<FetchedPackage> {
  const { onProgress, signal } = typeof options === 'function' ? { onProgress: options, signal: undefined } : options;
  if (!synced) {
    // A local .rpm given on the command line: nothing to fetch or compare against.
    if (!step.location || !existsSync(step.location))
      throw new RedpakError('package', `package file of ${step.nevra} not found: ${step.location ?? '(none)'}`);
    return { step, path: step.location, downloaded: 0 };
  }
  // From the repository's primary metadata: joined to the baseurl and the cache, so checked.
  const href = assertHref(
    synced.repo,
    step.href ?? (step.location ?? '').split('/').pop() ?? '',
    `the primary metadata (package ${step.nevra})`,
  );
  const [type, expected] = (step.checksum ?? '').split(':') as [string, string | undefined];
  const hint = `the repository ${synced.repo.id} changed since its metadata was fetched, or the file is corrupt: run \`redwrap-dnf --redpath NODE makecache --refresh\` and retry`;
  const check = (bytes: Buffer) => {
    if (expected)
      verifyChecksum(bytes, type, expected, `package ${step.nevra} from repository ${synced.repo.id}`, hint);
  };
  if (synced.baseurl.startsWith('file://')) {
    const path = join(fileURLToPath(synced.baseurl), href);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new RedpakError(
        'package',
        `package ${step.nevra} from repository ${synced.repo.id}: cannot read ${path}: ${(error as Error).message}`,
        { hint },
      );
    }
    check(bytes);
    onProgress?.(bytes.length, bytes.length);
    return { step, path, downloaded: 0 };
  }
  const dir = join(repoCacheDir(cacheDir, synced.repo), 'packages');
  const path = join(dir, href.slice(href.lastIndexOf('/') + 1));
  if (existsSync(path)) {
    try {
      check(await readFile(path));
      onProgress?.(statSync(path).size, statSync(path).size);
      return { step, path, downloaded: 0 };
    } catch {
      await rm(path, { force: true });
    }
  }
  // The size primary.xml declares bounds the body; nothing is written before it is complete.
  const bytes = await fetchBytes(join_url(synced.baseurl, href), `package ${step.nevra}`, transportOf(synced.repo), {
    maxBytes: step.size && step.size > 0 ? step.size : Number.MAX_SAFE_INTEGER,
    deadlineSeconds: DOWNLOAD_LIMITS.deadlineSeconds(),
    signal,
    onProgress,
  });
  check(bytes);
  await mkdir(dir, { recursive: true });
  await writeFile(`${path}.part`, bytes);
  await rename(`${path}.part`, path);
  return { step, path, downloaded: bytes.length };
}

/**
 * With gpgcheck, check each package's signature against the repository's gpgkey keys. The keys
 * go into a throwaway keyring database, never into the node's.
 */
export async function verifySignatures(
  packages: readonly FetchedPackage[],
  synced: readonly SyncedRepo[],
): Promise<void> {
  const byId = new Map(synced.map((s) => [s.repo.id, s]));
  const toCheck = packages.filter((p) => p.step.repo && byId.get(p.step.repo)?.repo.gpgcheck);
  if (toCheck.length === 0) return;
  const keyring = await mkdtemp(join(tmpdir(), 'redpak-keyring-'));
  try {
    await initDb(keyring);
    const imported = new Set<string>();
    for (const pkg of toCheck) {
      const repo = present(byId.get(pkg.step.repo ?? ''), `repository ${pkg.step.repo}`).repo;
      if (repo.gpgkey.length === 0) {
        throw new RedpakError(
          'package',
          `repository ${repo.id} has gpgcheck=1${overruledNote(repo)} but no gpgkey: cannot check ${pkg.step.nevra}`,
          {
            hint: `add gpgkey=file:///path/to/KEY to [${repo.id}] in ${repo.file}${repo.gpgcheckOverruled ? '' : ', or set gpgcheck=0'}`,
          },
        );
      }
      for (const url of repo.gpgkey) {
        if (imported.has(url)) continue;
        const keyFile = join(keyring, `key-${imported.size}.asc`);
        await writeFile(
          keyFile,
          await fetchBytes(url, `gpg key of repository ${repo.id}`, transportOf(repo), {
            maxBytes: 1024 * 1024,
            deadlineSeconds: DOWNLOAD_LIMITS.smallFileSeconds(),
          }),
        );
        await importKey(keyring, keyFile);
        imported.add(url);
      }
      const verdict = await checkSignature(keyring, pkg.path);
      if (!verdict.ok) {
        throw new RedpakError(
          'package',
          `package ${pkg.step.nevra} from repository ${repo.id} failed the signature check${overruledNote(repo)}: ${verdict.detail.replace(/^[^:]*:\s*/, '')}`,
          {
            hint: `the package is unsigned, tampered with, or signed by a key not listed in gpgkey= of [${repo.id}] (${repo.file}); nothing was installed`,
          },
        );
      }
    }
  } finally {
    await rm(keyring, { recursive: true, force: true });
  }
}

/** Why a repository that says gpgcheck=0 is checked all the same (empty when it does not say so). */
function overruledNote(repo: NodeRepo): string {
  const at = repo.gpgcheckOverruled;
  return at
    ? ` (its gpgcheck=0 at ${at.file}:${at.line} does not apply: the family requires signature checks, gpgcheck: true in its node config)`
    : '';
}
