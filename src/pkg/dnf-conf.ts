/**
 * What dnf reads besides the .repo files: the [main] section of dnf.conf (the host's, then each
 * node's `etc/dnf/dnf.conf` from the family's root down to the node: the closest setting wins),
 * and the variables of repository URLs ($releasever, $basearch, $arch, $releasever_major,
 * $releasever_minor, $DNF0-9, $YUM0-9 and any file of a vars directory).
 *
 * Who writes what is read here: the host's files, root on the host; a node's `etc/dnf`, the
 * node itself (its sandbox in admin mode), so no more trusted than its .repo files. The family's
 * gpgcheck (its configs, written by the family's administrators) is a floor neither can lower
 * (repos.ts applies it).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import type { PackageFamily } from './family-context.js';
import { controlCharacter, parseIni, type IniValue } from './repofile.js';

/** Inside a node: its dnf.conf and its variables directory. */
export const NODE_DNF_CONF = 'etc/dnf/dnf.conf';
const NODE_VARS_DIR = 'etc/dnf/vars';

/**
 * The host's dnf.conf: REDPAK_DNF_CONF when set ('' = none: the host's file is not read; the test
 * suite sets it so that results do not depend on the machine), else /etc/dnf/dnf.conf. Its vars
 * directory is `vars/` next to it.
 */
export function hostDnfConf(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const given = env.REDPAK_DNF_CONF;
  if (given === undefined) return '/etc/dnf/dnf.conf';
  return given === '' ? undefined : given;
}

/** Where the host's /etc/os-release is (VERSION_ID is the last source of $releasever). */
const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'];

/** The [main] values of one dnf.conf; none when the file does not exist. */
function mainOf(file: string): Map<string, IniValue> {
  if (!existsSync(file)) return new Map();
  const text = readTextFile(file, 'dnf.conf');
  return parseIni(text, file).find((s) => s.id === 'main')?.values ?? new Map();
}

/** A small text file (dnf.conf, a variable), refused when it is not a regular file (a fifo would block). */
function readTextFile(file: string, what: string): string {
  const st = statSync(file);
  if (!st.isFile() || st.size > 1024 * 1024)
    throw new RedpakError('schema', `${file}: not a regular file of at most 1 MiB (${what})`);
  return readFileSync(file, 'utf8');
}

/** Nodes of the family, root first (`family.nodes` is leaf first). */
function rootFirst(pf: Pick<PackageFamily, 'family'>): string[] {
  return [...pf.family.nodes].reverse().map((n) => n.hostPath);
}

/** [main] as the node sees it: the host's dnf.conf, then every node's from the root down; the closest wins per key. */
export function familyMain(pf: Pick<PackageFamily, 'family'>, env = process.env): Map<string, IniValue> {
  const host = hostDnfConf(env);
  const files = [...(host ? [host] : []), ...rootFirst(pf).map((n) => join(n, NODE_DNF_CONF))];
  const merged = new Map<string, IniValue>();
  for (const file of files) for (const [key, value] of mainOf(file)) merged.set(key, value);
  return merged;
}

const BASEARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armhfp', ia32: 'i386' };

/** The variables of one vars directory: each file named like a variable gives its first line. */
function varsDir(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    if (!/^\w+$/.test(name)) continue;
    const file = join(dir, name);
    if (!statSync(file).isFile()) continue;
    const value = readTextFile(file, `variable ${name}`).split('\n')[0]?.trim() ?? '';
    const bad = controlCharacter(value);
    if (bad) throw new RedpakError('schema', `${file}:1: variable ${name} holds a control character (${bad})`);
    out[name] = value;
  }
  return out;
}

/** VERSION_ID of the host's os-release, if any. */
function osReleaseVersion(): string | undefined {
  for (const file of OS_RELEASE) {
    if (!existsSync(file)) continue;
    const match = /^VERSION_ID=["']?([^"'\n]*)["']?$/m.exec(readFileSync(file, 'utf8'));
    return match?.[1] || undefined;
  }
  return undefined;
}

export interface VariableSources {
  /** --releasever: wins over every file. */
  releasever?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The variables of the node's repository URLs. $basearch/$arch: the machine. $DNF0-9/$YUM0-9 and
 * DNF_VAR_name: the environment, overridden by the vars files (the host's, then the nodes' from
 * the root down). $releasever: --releasever, else [main] releasever, else a vars file, else the
 * host's os-release VERSION_ID; $releasever_major/_minor split it at the first dot.
 */
export function repoVariables(
  pf: Pick<PackageFamily, 'family'>,
  main: ReadonlyMap<string, IniValue>,
  sources: VariableSources = {},
): Record<string, string> {
  const env = sources.env ?? process.env;
  const arch = BASEARCH[process.arch] ?? process.arch;
  const vars: Record<string, string> = { basearch: arch, arch };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (/^(DNF|YUM)\d$/.test(name)) vars[name] = value;
    const named = /^DNF_VAR_(\w+)$/.exec(name);
    if (named) vars[named[1]] = value;
  }
  const host = hostDnfConf(env);
  const dirs = [...(host ? [join(dirname(host), 'vars')] : []), ...rootFirst(pf).map((n) => join(n, NODE_VARS_DIR))];
  for (const dir of dirs) Object.assign(vars, varsDir(dir));
  const releasever = sources.releasever ?? main.get('releasever')?.value ?? vars.releasever ?? osReleaseVersion();
  if (releasever !== undefined && releasever !== '') {
    vars.releasever = releasever;
    const dot = releasever.indexOf('.');
    vars.releasever_major = dot < 0 ? releasever : releasever.slice(0, dot);
    vars.releasever_minor = dot < 0 ? '' : releasever.slice(dot + 1);
  }
  for (const [name, value] of Object.entries(vars)) {
    const bad = controlCharacter(value);
    if (bad) throw new RedpakError('schema', `dnf variable ${name} holds a control character (${bad})`);
  }
  return vars;
}
