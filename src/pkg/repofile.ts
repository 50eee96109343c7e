/**
 * Parser for dnf `.repo` files (ini syntax): `[id]` sections with name, baseurl, enabled,
 * gpgcheck, gpgkey, priority, metadata_expire, sslcacert, sslverify, timeout. Pure: takes the text and the file name used in
 * error messages. Follows dnf where it matters: indented lines continue the previous value
 * (several baseurls), `#` and `;` start comments, booleans accept 1/0/yes/no/true/false/on/off.
 */
import { fileURLToPath } from 'node:url';
import { RedpakError } from '../errors.js';
import { present } from '../present.js';

export interface RepoDefinition {
  id: string;
  name: string;
  /** One or more URLs: file://, http:// or https://. */
  baseurl: string[];
  enabled: boolean;
  gpgcheck: boolean;
  gpgkey: string[];
  /** dnf semantics: lower wins. Default 99. */
  priority: number;
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
const KNOWN_KEYS = new Set([
  'name',
  'baseurl',
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

function parseBoolean(value: string, file: string, line: number, key: string): boolean {
  const v = value.toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(v)) return true;
  if (['0', 'no', 'false', 'off'].includes(v)) return false;
  return fail(file, line, `${key} must be a boolean (1/0, yes/no, true/false, on/off), got "${value}"`);
}

function parseExpire(value: string, file: string, line: number): number | null {
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

interface RawSection {
  id: string;
  line: number;
  values: Map<string, { value: string; line: number }>;
}

/** Values for keys a repository section leaves out. */
export interface RepoDefaults {
  /** The node config's `gpgcheck` (redpak hands it to dnf as the main setting). */
  gpgcheck?: boolean;
}

export function parseRepoFile(text: string, file: string, defaults: RepoDefaults = {}): RepoDefinition[] {
  const sections: RawSection[] = [];
  let current: RawSection | undefined;
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
    current.values.set(key, { value: option[2].trim(), line });
    lastKey = key;
  });

  return sections.filter((s) => s.id !== 'main').map((section) => toDefinition(section, file, defaults));
}

function toDefinition(section: RawSection, file: string, defaults: RepoDefaults): RepoDefinition {
  const get = (key: string) => section.values.get(key);
  const baseurlEntry = get('baseurl');
  if (!baseurlEntry || baseurlEntry.value === '') {
    const other = get('mirrorlist') ?? get('metalink');
    fail(
      file,
      other?.line ?? section.line,
      `repository "${section.id}" has no baseurl${other ? ' (mirrorlist/metalink are not supported)' : ''}`,
    );
  }
  const baseurl = splitList(baseurlEntry.value);
  for (const url of baseurl) {
    if (!/^(file|https?):\/\//.test(url))
      fail(
        file,
        baseurlEntry.line,
        `repository "${section.id}": unsupported baseurl "${url}" (file://, http:// or https:// only)`,
      );
  }
  const bool = (key: string, fallback: boolean) => {
    const entry = get(key);
    return entry ? parseBoolean(entry.value, file, entry.line, key) : fallback;
  };
  const priorityEntry = get('priority');
  let priority = DEFAULT_PRIORITY;
  if (priorityEntry) {
    if (!/^-?\d+$/.test(priorityEntry.value))
      fail(file, priorityEntry.line, `priority must be an integer, got "${priorityEntry.value}"`);
    priority = Number(priorityEntry.value);
  }
  const expireEntry = get('metadata_expire');
  const timeoutEntry = get('timeout');
  if (timeoutEntry && !/^\d+$/.test(timeoutEntry.value))
    fail(file, timeoutEntry.line, `timeout must be a number of seconds, got "${timeoutEntry.value}"`);
  const extra: Record<string, string> = {};
  for (const [key, { value }] of section.values) if (!KNOWN_KEYS.has(key)) extra[key] = value;
  const sslcacert = get('sslcacert')?.value;
  return {
    id: section.id,
    name: get('name')?.value ?? section.id,
    baseurl,
    enabled: bool('enabled', true),
    gpgcheck: bool('gpgcheck', defaults.gpgcheck ?? false),
    gpgkey: splitList(get('gpgkey')?.value ?? ''),
    priority,
    metadataExpire: expireEntry ? parseExpire(expireEntry.value, file, expireEntry.line) : DEFAULT_METADATA_EXPIRE,
    ...(sslcacert ? { sslcacert } : {}),
    sslverify: bool('sslverify', true),
    timeout: timeoutEntry ? Number(timeoutEntry.value) : DEFAULT_TIMEOUT,
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

/** Replace dnf variables ($basearch, $releasever, ${name}…) from `vars`; unknown ones stay. */
export function substituteVariables(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$(?:\{(\w+)\}|(\w+))/g,
    (whole, braced: string | undefined, bare: string | undefined) =>
      vars[present(braced ?? bare, 'the variable name')] ?? whole,
  );
}
