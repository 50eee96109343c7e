/**
 * The `seccomp:` section of a node's configuration: its types and its validation against the
 * syscall tables (config/syscalls.ts). Pure: no I/O. wrap/seccomp.ts compiles the filters to BPF.
 *
 * YAML shape (keys and action names lower-case; redpak's loader is case-insensitive, so the
 * validator accepts any case and normalises):
 *
 * ```yaml
 * seccomp:
 *   default: allow          # allow | errno | kill | log | trap   (optional, allow when absent)
 *   errno: EPERM            # errno returned when default is errno (optional, EPERM)
 *   rules:
 *     - syscall: [mkdir, mkdirat]   # one name or a list of names
 *       action: errno               # allow | errno | kill | log | trap
 *       errno: EACCES               # name or number, only with action errno (optional, EPERM)
 *       info: no new directories    # free text (optional)
 *     - syscall: kexec_load
 *       action: kill
 * ```
 *
 * - Syscall names are checked against every supported architecture: a name unknown everywhere is
 *   an error (a name known on another architecture only is skipped by the compiler for a target
 *   that lacks it).
 * - A syscall named in two rules with different verdicts is an error (the order would otherwise
 *   decide silently).
 */
import { RedpakError } from '../errors.js';
import { ERRNO_NUMBERS, SYSCALL_NUMBERS, type SeccompArch } from './syscalls.js';

export const SECCOMP_ACTIONS = ['allow', 'errno', 'kill', 'log', 'trap'] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export interface SeccompRule {
  syscall: string | string[];
  action: SeccompAction;
  /** Only with action errno: a name (EPERM) or a number (1..4095). EPERM when absent. */
  errno?: number | string;
  info?: string;
}

export interface SeccompConfig {
  default?: SeccompAction;
  /** Only with default errno. EPERM when absent. */
  errno?: number | string;
  rules: SeccompRule[];
}

export const SUPPORTED_ARCHES = Object.keys(SYSCALL_NUMBERS) as SeccompArch[];

/** The kernel's MAX_ERRNO: larger values are not errors for libc. */
const MAX_ERRNO = 4095;
/** The errno of an errno action that names none: EPERM. */
export const DEFAULT_ERRNO = 1;

/** Whether a syscall name is known on at least one supported architecture. */
export function isKnownSyscall(name: string): boolean {
  return SUPPORTED_ARCHES.some((arch) => Object.hasOwn(SYSCALL_NUMBERS[arch], name));
}

/** A seccomp value at fault, with the path of that value (`seccomp.rules[1].syscall`) as data. */
export class SeccompValueError extends RedpakError {
  constructor(
    readonly valuePath: string,
    message: string,
    hint?: string,
  ) {
    super('schema', `${valuePath}: ${message}`, hint ? { hint } : {});
  }
}

function schemaError(where: string, message: string, hint?: string): RedpakError {
  return new SeccompValueError(where, message, hint);
}

function closestSyscall(name: string): string | undefined {
  const candidates = new Set(SUPPORTED_ARCHES.flatMap((arch) => Object.keys(SYSCALL_NUMBERS[arch])));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The error for a syscall name no supported architecture knows, with the closest known name. */
export function unknownSyscall(where: string, name: string): RedpakError {
  const suggestion = closestSyscall(name);
  return schemaError(
    where,
    `unknown syscall "${name}"`,
    suggestion
      ? `did you mean "${suggestion}"?`
      : `syscall names are those of scmp_sys_resolver (${SUPPORTED_ARCHES.join(', ')})`,
  );
}

/** An errno name or number → its number; throws a schema error naming `where`. */
export function resolveErrno(value: number | string, where: string): number {
  const number =
    typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : ERRNO_NUMBERS[value.toUpperCase()];
  if (number === undefined)
    throw schemaError(where, `unknown errno "${value}"`, 'use a name such as EPERM or EACCES, or a number');
  if (!Number.isInteger(number) || number < 1 || number > MAX_ERRNO)
    throw schemaError(where, `errno ${value} is not in 1..${MAX_ERRNO}`);
  return number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys lower-cased (redpak's YAML is case-insensitive); unknown keys rejected. */
function lowerKeys(raw: Record<string, unknown>, allowed: readonly string[], where: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const lower = key.toLowerCase();
    if (!allowed.includes(lower))
      throw schemaError(where, `unknown key "${key}"`, `allowed keys: ${allowed.join(', ')}`);
    result[lower] = value;
  }
  return result;
}

function parseAction(raw: unknown, where: string): SeccompAction {
  const action = typeof raw === 'string' ? raw.toLowerCase() : undefined;
  if (!action || !(SECCOMP_ACTIONS as readonly string[]).includes(action)) {
    throw schemaError(where, `action must be one of ${SECCOMP_ACTIONS.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return action as SeccompAction;
}

function parseErrnoField(raw: unknown, action: SeccompAction | undefined, where: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (action !== 'errno')
    throw schemaError(where, `errno is only meaningful with action errno (action is ${action ?? 'allow'})`);
  if (typeof raw !== 'number' && typeof raw !== 'string') throw schemaError(where, 'errno must be a name or a number');
  return resolveErrno(raw, where);
}

function parseSyscallNames(raw: unknown, where: string): string[] {
  const names = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (!names || names.length === 0) throw schemaError(where, 'syscall must be a name or a non-empty list of names');
  return names.map((name, index) => {
    if (typeof name !== 'string')
      throw schemaError(`${where}[${index}]`, `syscall name must be a string, got ${JSON.stringify(name)}`);
    const trimmed = name.trim();
    if (!isKnownSyscall(trimmed)) throw unknownSyscall(where, trimmed);
    return trimmed;
  });
}

/**
 * Raw parsed YAML (the value under `seccomp:`) → a normalised SeccompConfig: actions lower-case,
 * `syscall` always a list, errno always a number. Errors name the rule and the offending value,
 * prefixed by `where` (e.g. "etc/redpak.yaml: seccomp").
 */
export function validateSeccomp(raw: unknown, where = 'seccomp'): SeccompConfig {
  if (!isPlainObject(raw))
    throw schemaError(where, 'must be a mapping with "rules" (and optionally "default", "errno")');
  const top = lowerKeys(raw, ['default', 'errno', 'rules'], where);
  const defaultAction =
    top.default === undefined || top.default === null ? 'allow' : parseAction(top.default, `${where}.default`);
  const defaultErrno = parseErrnoField(top.errno, defaultAction, `${where}.errno`);
  const rawRules = top.rules ?? [];
  if (!Array.isArray(rawRules)) throw schemaError(`${where}.rules`, 'must be a list');

  const verdictOf = new Map<string, { verdict: string; rule: number }>();
  const rules = rawRules.map((rawRule, index): SeccompRule => {
    const ruleWhere = `${where}.rules[${index}]`;
    if (!isPlainObject(rawRule)) throw schemaError(ruleWhere, 'must be a mapping with "syscall" and "action"');
    const fields = lowerKeys(rawRule, ['syscall', 'action', 'errno', 'info'], ruleWhere);
    if (fields.syscall === undefined) throw schemaError(ruleWhere, 'missing "syscall"');
    if (fields.action === undefined) throw schemaError(ruleWhere, 'missing "action"');
    const action = parseAction(fields.action, `${ruleWhere}.action`);
    const syscalls = parseSyscallNames(fields.syscall, `${ruleWhere}.syscall`);
    const errno = parseErrnoField(fields.errno, action, `${ruleWhere}.errno`);
    const verdict = action === 'errno' ? `errno ${errno ?? DEFAULT_ERRNO}` : action;
    for (const name of syscalls) {
      const earlier = verdictOf.get(name);
      if (earlier && earlier.verdict !== verdict) {
        throw schemaError(
          `${ruleWhere}.syscall`,
          `"${name}" is already ${earlier.verdict} in rule ${earlier.rule}, cannot also be ${verdict}`,
        );
      }
      verdictOf.set(name, { verdict, rule: index });
    }
    const rule: SeccompRule = { syscall: syscalls, action };
    if (errno !== undefined) rule.errno = errno;
    if (fields.info !== undefined) rule.info = String(fields.info);
    return rule;
  });
  const config: SeccompConfig = { default: defaultAction, rules };
  if (defaultErrno !== undefined) config.errno = defaultErrno;
  return config;
}
