/**
 * Variable expansion of configuration strings (docs/configuration.md, "Variables").
 *
 * Pure: everything that comes from the running system (environment, ids, clock, the shell used
 * for `$(...)`) arrives through `HostFacts`, so tests pin it and the launch-plan compiler can
 * record what a plan depended on.
 */
import { RedpakError } from '../errors.js';

export interface NodeFacts {
  alias: string;
  name?: string;
  /** Path as seen on the target, no trailing `/`. */
  path: string;
  info?: string;
}

export interface HostFacts {
  env: Readonly<Record<string, string | undefined>>;
  uid: number;
  gid: number;
  pid: number;
  now: Date;
  /**
   * Whether `$(...)` may run: `never` for inspection and audit, where it is shown as
   * `<not run: $(...)>` instead (notRun). Absent means `run` (a launch).
   */
  commands?: CommandMode;
  /** Runs `$(...)` text (in a sandbox, src/system/host-facts.ts) and returns its raw stdout. */
  runCommand: (script: string) => string;
  uuid: () => string;
  cgroupMountPoint: () => string;
}

export type CommandMode = 'run' | 'never';

/** How a `$(...)` that was not run shows in an expanded value. */
export const notRun = (written: string): string => `<not run: ${written}>`;

/** Whether an expanded value holds a command that was not run (its real value is unknown). */
export const hasNotRun = (value: string): boolean => value.includes('<not run: $(');

export interface ExpandContext {
  host: HostFacts;
  /** The node in whose config the string was written (`$NODE_*`). */
  node?: NodeFacts;
  /** The node the command targets (`$LEAF_*`). */
  leaf?: NodeFacts;
  /** Whether `$(command)` runs; where it does not, the sequence expands to nothing (as in redpak). */
  commands: boolean;
}

const NAME_CHAR = /[0-9A-Za-z_]/;

/** No fixed buffer as redpak's 512 bytes, but a bound: variables doubling at each level would never end. */
const MAX_EXPANSION = 1 << 20;

export function expand(text: string, ctx: ExpandContext): string {
  return expandAt(text, ctx, []);
}

/**
 * `active`: the variables whose values are being expanded, outermost first. Meeting one of them
 * again is a self-reference (redpak recurses until its stack overflows); a long chain of distinct
 * variables is fine.
 */
function expandAt(text: string, ctx: ExpandContext, active: readonly string[]): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && text[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (c !== '$') {
      out += c;
      i += 1;
      continue;
    }
    // `$(command)`: balanced parentheses, nesting allowed.
    if (text[i + 1] === '(') {
      const close = matchingParen(text, i + 1);
      if (close < 0) {
        // Unbalanced `$(`: the `$` is dropped, the rest is kept as text.
        i += 1;
        continue;
      }
      if (ctx.commands && ctx.host.commands === 'never') {
        out += notRun(text.slice(i, close + 1));
      } else if (ctx.commands) {
        const script = expandAt(text.slice(i + 2, close), { ...ctx, commands: false }, active);
        out += ctx.host.runCommand(script);
      }
      i = close + 1;
      continue;
    }
    let end = i + 1;
    while (end < text.length && NAME_CHAR.test(text[end])) end += 1;
    const name = text.slice(i + 1, end);
    i = end;
    if (name) out += lookup(name, ctx, active);
    // `$` followed by a non-name character expands to nothing.
    if (out.length > MAX_EXPANSION)
      throw new RedpakError(
        'expansion',
        `the expansion of "${text.slice(0, 80)}" grows beyond ${MAX_EXPANSION} characters`,
      );
  }
  return out;
}

function matchingParen(text: string, open: number): number {
  let level = 0;
  for (let j = open; j < text.length; j += 1) {
    if (text[j] === '(') level += 1;
    else if (text[j] === ')') {
      level -= 1;
      if (level === 0) return j;
    }
  }
  return -1;
}

function lookup(name: string, ctx: ExpandContext, active: readonly string[]): string {
  if (active.includes(name)) {
    const cycle = [...active.slice(active.indexOf(name)), name].map((n) => `$${n}`).join(' → ');
    throw new RedpakError(
      'expansion',
      `variable $${name} refers to itself (${cycle}): its expansion does not terminate`,
    );
  }
  const inner = [...active, name];
  const builtin = builtinValue(name, ctx);
  if (builtin !== undefined) return expandAt(builtin, { ...ctx, commands: false }, inner);
  const fromEnv = ctx.host.env[name];
  if (fromEnv) return expandAt(fromEnv, { ...ctx, commands: false }, inner);
  return '';
}

function nodeField(node: NodeFacts | undefined, field: 'alias' | 'name' | 'path' | 'info', name: string): string {
  if (!node) return `#undef:${name}`;
  return node[field] ?? '';
}

/** The built-in table of docs/configuration.md, "Built-in variables"; `undefined` means "not a built-in". */
function builtinValue(name: string, ctx: ExpandContext): string | undefined {
  const { host } = ctx;
  const env = host.env;
  switch (name) {
    case 'NODE_PREFIX':
      return env.NODE_PREFIX ?? '';
    case 'redpak_MAIN':
      return env.redpak_MAIN ?? '$NODE_PREFIX/etc/redpak/main.yaml';
    case 'redpak_TMPL':
      return env.redpak_TMPL ?? '$NODE_PREFIX/etc/redpak/templates.d';
    case 'REDNODE_CONF':
      return '$NODE_PATH/etc/redpak.yaml';
    case 'REDNODE_ADMIN':
      return '$NODE_PATH/etc/redpak-admin.yaml';
    case 'REDNODE_STATUS':
      return '$NODE_PATH/.rednode.yaml';
    case 'REDNODE_VARDIR':
      // Sic: redpak's value (not var/lib/rpm); kept so existing configs expand the same.
      return '$NODE_PATH/var/rpm/lib';
    case 'REDNODE_REPODIR':
      return '$NODE_PATH/etc/yum.repos.d';
    case 'REDNODE_LOCK':
      return '$NODE_PATH/.rpm.lock';
    case 'USER':
      return env.USER ?? 'Unknown';
    case 'LOGNAME':
      return env.LOGNAME ?? 'Unknown';
    case 'HOSTNAME':
      return env.HOSTNAME ?? 'localhost';
    case 'CGROUPS_MOUNT_POINT':
      return env.CGROUPS_MOUNT_POINT ?? host.cgroupMountPoint();
    case 'PID':
      return String(host.pid);
    case 'UID':
      return String(host.uid);
    case 'GID':
      return String(host.gid);
    case 'TODAY':
      return formatToday(host.now);
    case 'UUID':
      return host.uuid();
    case 'REDPESK_VERSION':
      return env.REDPESK_VERSION ?? 'agl-redpesk9';
    case 'NODE_ALIAS':
      return nodeField(ctx.node, 'alias', name);
    case 'NODE_NAME':
      return nodeField(ctx.node, 'name', name);
    case 'NODE_PATH':
      return nodeField(ctx.node, 'path', name);
    case 'NODE_INFO':
      return nodeField(ctx.node, 'info', name);
    case 'LEAF_ALIAS':
      return nodeField(ctx.leaf, 'alias', name);
    case 'LEAF_NAME':
      return nodeField(ctx.leaf, 'name', name);
    case 'LEAF_PATH':
      return nodeField(ctx.leaf, 'path', name);
    case 'LEAF_INFO':
      return nodeField(ctx.leaf, 'info', name);
    default:
      return undefined;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** strftime("%d-%b-%Y %H:%M (%Z)") in local time, as redpak writes `$TODAY`. */
export function formatToday(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
      .formatToParts(now)
      .find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
  return `${pad(now.getDate())}-${MONTHS[now.getMonth()]}-${now.getFullYear()} ${pad(now.getHours())}:${pad(now.getMinutes())} (${zone})`;
}

/**
 * Appends a `:`-separated list to an accumulated one (redpak's RedConfAppendExpandedPath): empty
 * components dropped, components already present skipped.
 */
export function appendPathList(accumulated: string, addition: string): string {
  const parts = accumulated.split(':').filter(Boolean);
  for (const part of addition.split(':')) {
    if (part && !parts.includes(part)) parts.push(part);
  }
  return parts.join(':');
}
