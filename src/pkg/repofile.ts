/**
 * Parser for dnf `.repo` files and the `[main]` section of dnf.conf (ini syntax): `[id]` sections
 * with name, baseurl, mirrorlist, metalink, enabled, gpgcheck, gpgkey, priority, cost,
 * skip_if_unavailable, metadata_expire, excludepkgs, includepkgs, sslcacert, sslverify, timeout.
 * Pure: takes the text and the file name used in error messages. Follows dnf where it matters:
 * indented lines continue the previous value (several baseurls), `#` and `;` start comments,
 * booleans accept 1/0/yes/no/true/false/on/off.
 */
import { fileURLToPath } from 'node:url';
import { RedpakError } from '../errors.js';
import { present } from '../present.js';

export interface RepoDefinition {
  id: string;
  name: string;
  /** URLs: file://, http:// or https://; may be empty when a mirrorlist or metalink names the mirrors. */
  baseurl: string[];
  /** URL of a list of mirrors, one baseurl a line (used when baseurl is empty). */
  mirrorlist?: string;
  /** URL of a metalink: mirrors of repomd.xml and its checksums (used when baseurl is empty, before mirrorlist). */
  metalink?: string;
  enabled: boolean;
  gpgcheck: boolean;
  gpgkey: string[];
  /** dnf semantics: lower wins. Default 99. */
  priority: number;
  /** dnf: among repositories of one priority, the cheaper one is preferred. Default 1000. */
  cost: number;
  /** A repository whose metadata cannot be fetched is left out (with a warning) instead of failing. Default false, as dnf. */
  skipIfUnavailable: boolean;
  /** Package name globs the repository does not offer, and (when given) the only ones it offers. */
  excludepkgs: string[];
  includepkgs: string[];
  /** Seconds; null for "never". Default 48 h, as dnf. */
  metadataExpire: number | null;
  /** https: PEM file of the authorities that sign the server's certificate (a path on the host running redwrap-dnf). */
  sslcacert?: string;
  /** https: check the server's certificate. Default true. */
  sslverify: boolean;
  /** Seconds without data before a download gives up. Default 30, as dnf. */
  timeout: number;
  /** Keys we do not interpret, kept verbatim. */
  extra: Record<string, string>;
  /** Where the section header is. */
  file: string;
  line: number;
}

const DEFAULT_PRIORITY = 99;
const DEFAULT_METADATA_EXPIRE = 48 * 3600;
const DEFAULT_TIMEOUT = 30;
const DEFAULT_COST = 1000;
const KNOWN_KEYS = new Set([
  'name',
  'baseurl',
  'mirrorlist',
  'metalink',
  'cost',
  'skip_if_unavailable',
  'excludepkgs',
  'exclude',
  'includepkgs',
  'enabled',
  'gpgcheck',
  'gpgkey',
  'priority',
  'metadata_expire',
  'sslcacert',
  'sslverify',
  'timeout',
]);

/**
 * What dnf accepts as a repository id: letters, digits, `-_.:`. The id names the repository's
 * cache directory, so `.` and `..` (the cache itself, its parent) are refused too.
 */
export function isRepoId(id: string): boolean {
  return /^[A-Za-z0-9_.:-]+$/.test(id) && id !== '.' && id !== '..';
}

/** A control character (NUL, CR, ESC…; tab and newline included) anywhere in `value`. */
export function controlCharacter(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  const match = /[\x00-\x1f\x7f]/.exec(value);
  return match ? `\\x${match[0].charCodeAt(0).toString(16).padStart(2, '0')}` : undefined;
}

/** Keys holding URLs: fetched, and written back into .repo files by recipes. */
const URL_KEYS = ['baseurl', 'mirrorlist', 'metalink', 'gpgkey'];

function fail(file: string, line: number, message: string): never {
  throw new RedpakError('schema', `${file}:${line}: ${message}`, { at: { file, line, col: 0 } });
}

export function parseBoolean(value: string, file: string, line: number, key: string): boolean {
  const v = value.toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(v)) return true;
  if (['0', 'no', 'false', 'off'].includes(v)) return false;
  return fail(file, line, `${key} must be a boolean (1/0, yes/no, true/false, on/off), got "${value}"`);
}

export function parseExpire(value: string, file: string, line: number): number | null {
  if (value === 'never' || value === '-1') return null;
  const match = /^(\d+)([smhd]?)$/.exec(value);
  if (!match)
    return fail(
      file,
      line,
      `metadata_expire must be a number of seconds (optionally with s/m/h/d) or "never", got "${value}"`,
    );
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** Split a value on commas and whitespace, as dnf does for list options. */
function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter((v) => v !== '');
}

/** A value of an ini file, and where it was written. */
export interface IniValue {
  value: string;
  file: string;
  line: number;
}

/** One `[id]` section of an ini file; keys in lower case. */
export interface IniSection {
  id: string;
  line: number;
  values: Map<string, IniValue>;
}

/** Values for keys a repository section leaves out (dnf.conf's [main], the node config). */
export interface RepoDefaults {
  gpgcheck?: boolean;
  skipIfUnavailable?: boolean;
  metadataExpire?: number | null;
  timeout?: number;
  sslverify?: boolean;
  sslcacert?: string;
  /** [main] excludepkgs: left out of every repository, on top of each one's own. */
  excludepkgs?: string[];
}

export function parseRepoFile(text: string, file: string, defaults: RepoDefaults = {}): RepoDefinition[] {
  return parseIni(text, file)
    .filter((s) => s.id !== 'main')
    .map((section) => repoFromSection(section, file, defaults));
}

/** The sections of an ini file as dnf reads them (see the top of this file); errors name file and line. */
export function parseIni(text: string, file: string): IniSection[] {
  const sections: IniSection[] = [];
  let current: IniSection | undefined;
  let lastKey: string | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (/^\s*([#;].*)?$/.test(raw)) return;
    if (/^\s/.test(raw)) {
      // Continuation of the previous value (dnf allows one URL per indented line).
      if (!current || !lastKey) fail(file, line, 'indented line continues no option');
      const entry = present(current.values.get(lastKey), `option ${lastKey}`);
      const bad = URL_KEYS.includes(lastKey) ? controlCharacter(raw.trim()) : undefined;
      if (bad) fail(file, line, `${lastKey} of repository "${current.id}" holds a control character (${bad})`);
      entry.value = `${entry.value}\n${raw.trim()}`;
      return;
    }
    const header = /^\[([^\]]*)\]\s*$/.exec(raw);
    if (header) {
      const id = header[1].trim();
      if (!isRepoId(id))
        fail(
          file,
          line,
          `invalid repository id ${JSON.stringify(id)} (letters, digits, "_", ".", ":", "-"; not "." or "..")`,
        );
      const previous = sections.find((s) => s.id === id);
      if (previous) fail(file, line, `repository "${id}" is already defined at line ${previous.line}`);
      current = { id, line, values: new Map() };
      sections.push(current);
      lastKey = undefined;
      return;
    }
    const option = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(raw);
    if (!option) fail(file, line, `expected "[id]" or "key=value", got "${raw.trim()}"`);
    if (!current) fail(file, line, `option "${option[1]}" appears before any [repository] section`);
    const key = option[1].toLowerCase();
    const bad = URL_KEYS.includes(key) ? controlCharacter(option[2].trim()) : undefined;
    if (bad) fail(file, line, `${key} of repository "${current.id}" holds a control character (${bad})`);
    const earlier = current.values.get(key);
    if (earlier)
      fail(file, line, `option "${key}" of repository "${current.id}" is set twice (first at line ${earlier.line})`);
    current.values.set(key, { value: option[2].trim(), file, line });
    lastKey = key;
  });
  return sections;
}

/** The URL schemes a repository may be reached by. */
export function isRepoUrl(url: string): boolean {
  return /^(file|https?):\/\//.test(url);
}

/** The values of [main] (dnf.conf) that repositories take when they leave them out. */
export function repoDefaultsOf(main: ReadonlyMap<string, IniValue>): RepoDefaults {
  const bool = (key: string) => {
    const entry = main.get(key);
    return entry ? parseBoolean(entry.value, entry.file, entry.line, key) : undefined;
  };
  const expire = main.get('metadata_expire');
  const timeout = main.get('timeout');
  const excludes = splitList((main.get('excludepkgs') ?? main.get('exclude'))?.value ?? '');
  if (timeout && !/^\d+$/.test(timeout.value))
    fail(timeout.file, timeout.line, `timeout must be a number of seconds, got "${timeout.value}"`);
  const defaults: RepoDefaults = {
    gpgcheck: bool('gpgcheck'),
    skipIfUnavailable: bool('skip_if_unavailable'),
    sslverify: bool('sslverify'),
    ...(expire ? { metadataExpire: parseExpire(expire.value, expire.file, expire.line) } : {}),
    ...(timeout ? { timeout: Number(timeout.value) } : {}),
    ...(main.get('sslcacert')?.value ? { sslcacert: main.get('sslcacert')?.value } : {}),
    ...(excludes.length > 0 ? { excludepkgs: excludes } : {}),
  };
  return Object.fromEntries(Object.entries(defaults).filter(([, v]) => v !== undefined)) as RepoDefaults;
}

/** The repository a section of a .repo file defines (its values already substituted and overridden). */
export function repoFromSection(section: IniSection, file: string, defaults: RepoDefaults): RepoDefinition {
  const get = (key: string) => section.values.get(key);
  const urlOf = (key: 'mirrorlist' | 'metalink') => {
    const entry = get(key);
    if (!entry || entry.value === '') return undefined;
    if (!isRepoUrl(entry.value))
      fail(
        entry.file,
        entry.line,
        `repository "${section.id}": unsupported ${key} "${entry.value}" (file://, http:// or https:// only)`,
      );
    return entry.value;
  };
  const mirrorlist = urlOf('mirrorlist');
  const metalink = urlOf('metalink');
  const baseurlEntry = get('baseurl');
  const baseurl = splitList(baseurlEntry?.value ?? '');
  if (baseurl.length === 0 && !mirrorlist && !metalink)
    fail(file, section.line, `repository "${section.id}" has no baseurl, mirrorlist or metalink`);
  for (const url of baseurl) {
    if (!isRepoUrl(url))
      fail(
        baseurlEntry?.file ?? file,
        baseurlEntry?.line ?? section.line,
        `repository "${section.id}": unsupported baseurl "${url}" (file://, http:// or https:// only)`,
      );
  }
  const bool = (key: string, fallback: boolean) => {
    const entry = get(key);
    return entry ? parseBoolean(entry.value, entry.file, entry.line, key) : fallback;
  };
  const priorityEntry = get('priority');
  let priority = DEFAULT_PRIORITY;
  if (priorityEntry) {
    if (!/^-?\d+$/.test(priorityEntry.value))
      fail(priorityEntry.file, priorityEntry.line, `priority must be an integer, got "${priorityEntry.value}"`);
    priority = Number(priorityEntry.value);
  }
  const costEntry = get('cost');
  if (costEntry && !/^\d+$/.test(costEntry.value))
    fail(costEntry.file, costEntry.line, `cost must be a non-negative integer, got "${costEntry.value}"`);
  const globs = (key: string, ...aliases: string[]) =>
    splitList([key, ...aliases].map(get).find((e) => e !== undefined)?.value ?? '');
  const expireEntry = get('metadata_expire');
  const timeoutEntry = get('timeout');
  if (timeoutEntry && !/^\d+$/.test(timeoutEntry.value))
    fail(timeoutEntry.file, timeoutEntry.line, `timeout must be a number of seconds, got "${timeoutEntry.value}"`);
  const extra: Record<string, string> = {};
  for (const [key, { value }] of section.values) if (!KNOWN_KEYS.has(key)) extra[key] = value;
  const sslcacert = get('sslcacert')?.value || defaults.sslcacert;
  return {
    id: section.id,
    name: get('name')?.value ?? section.id,
    baseurl,
    ...(mirrorlist ? { mirrorlist } : {}),
    ...(metalink ? { metalink } : {}),
    enabled: bool('enabled', true),
    gpgcheck: bool('gpgcheck', defaults.gpgcheck ?? false),
    gpgkey: splitList(get('gpgkey')?.value ?? ''),
    priority,
    cost: costEntry ? Number(costEntry.value) : DEFAULT_COST,
    skipIfUnavailable: bool('skip_if_unavailable', defaults.skipIfUnavailable ?? false),
    excludepkgs: [...(defaults.excludepkgs ?? []), ...globs('excludepkgs', 'exclude')],
    includepkgs: globs('includepkgs'),
    metadataExpire: expireEntry
      ? parseExpire(expireEntry.value, expireEntry.file, expireEntry.line)
      : defaults.metadataExpire !== undefined
        ? defaults.metadataExpire
        : DEFAULT_METADATA_EXPIRE,
    ...(sslcacert ? { sslcacert } : {}),
    sslverify: bool('sslverify', defaults.sslverify ?? true),
    timeout: timeoutEntry ? Number(timeoutEntry.value) : (defaults.timeout ?? DEFAULT_TIMEOUT),
    extra,
    file,
    line: section.line,
  };
}

/** The local directory of a repository, when its first baseurl is file://; undefined otherwise. */
export function localRepoDir(repo: Pick<RepoDefinition, 'baseurl'>): string | undefined {
  const url = repo.baseurl[0];
  return url?.startsWith('file://') ? fileURLToPath(url) : undefined;
}

/** Replace dnf variables ($basearch, $releasever, ${name}…) from `vars`; unknown ones stay. Names are case-sensitive, as dnf's. */
export function substituteVariables(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$(?:\{(\w+)\}|(\w+))/g,
    (whole, braced: string | undefined, bare: string | undefined) =>
      vars[present(braced ?? bare, 'the variable name')] ?? whole,
  );
}
