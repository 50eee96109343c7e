/**
 * Seccomp filters compiled to classic BPF (no libseccomp at run time). Pure: no I/O.
 *
 * YAML shape of a node's `seccomp:` section (keys and action names lower-case; redpak's loader is
 * case-insensitive, so the validator accepts any case and normalises):
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
 * Semantics:
 * - Each node has its own filter. The launcher passes every node's filter to bwrap
 *   (`--add-seccomp-fd`, root-most first); the kernel runs all of them and keeps the most
 *   restrictive verdict (kill > trap > errno > log > allow), so a child can narrow what its
 *   parents allow but never re-allow what a parent denies.
 * - `kill` kills the whole process (SECCOMP_RET_KILL_PROCESS), not just the thread.
 * - A filter rejects (kills) any other architecture than the one it was compiled for, and on
 *   x86_64 any x32 syscall (number ≥ 0x40000000): otherwise a rule on `mkdir` could be bypassed
 *   through the same syscall's number in another ABI.
 * - Syscall names are checked against every supported architecture. A name that exists on some
 *   architecture but not the target one (e.g. `mkdir` on aarch64, which only has `mkdirat`) is
 *   skipped for that target, since no process can call it there; a name unknown everywhere is an
 *   error.
 * - A syscall named in two rules with different verdicts is an error (the order would otherwise
 *   decide silently).
 */
import { RedpakError } from '../errors.js';
import { ERRNO_NUMBERS, SYSCALL_NUMBERS, type SeccompArch } from './syscalls.js';

export type { SeccompArch } from './syscalls.js';

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

/** The kernel's AUDIT_ARCH_* values, as seen in seccomp_data.arch. */
const AUDIT_ARCH: Record<SeccompArch, number> = {
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
};
const X32_SYSCALL_BIT = 0x40000000;

// Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SECCOMP_DATA_NR = 0;
const SECCOMP_DATA_ARCH = 4;
const RET_KILL_PROCESS = 0x80000000;
const RET_TRAP = 0x00030000;
const RET_ERRNO = 0x00050000;
const RET_LOG = 0x7ffc0000;
const RET_ALLOW = 0x7fff0000;
/** The kernel's BPF_MAXINSNS: a longer program is refused by seccomp(2). */
export const MAX_BPF_INSTRUCTIONS = 4096;
/** The kernel's MAX_ERRNO: larger values are not errors for libc. */
const MAX_ERRNO = 4095;
const DEFAULT_ERRNO = 1; // EPERM

/** The architecture of the running Node process, or undefined when the compiler cannot target it. */
export function nativeSeccompArch(nodeArch: string = process.arch): SeccompArch | undefined {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  return undefined;
}

/** Whether a syscall name is known on at least one supported architecture. */
export function isKnownSyscall(name: string): boolean {
  return SUPPORTED_ARCHES.some((arch) => Object.hasOwn(SYSCALL_NUMBERS[arch], name));
}

function schemaError(where: string, message: string, hint?: string): RedpakError {
  return new RedpakError('schema', `${where}: ${message}`, hint ? { hint } : {});
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

function unknownSyscall(where: string, name: string): RedpakError {
  const suggestion = closestSyscall(name);
  return schemaError(
    where,
    `unknown syscall "${name}"`,
    suggestion ? `did you mean "${suggestion}"?` : `syscall names are those of scmp_sys_resolver (${SUPPORTED_ARCHES.join(', ')})`,
  );
}

/** An errno name or number → its number; throws a schema error naming `where`. */
export function resolveErrno(value: number | string, where: string): number {
  const number = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : ERRNO_NUMBERS[value.toUpperCase()];
  if (number === undefined) throw schemaError(where, `unknown errno "${value}"`, 'use a name such as EPERM or EACCES, or a number');
  if (!Number.isInteger(number) || number < 1 || number > MAX_ERRNO) throw schemaError(where, `errno ${value} is not in 1..${MAX_ERRNO}`);
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
    if (!allowed.includes(lower)) throw schemaError(where, `unknown key "${key}"`, `allowed keys: ${allowed.join(', ')}`);
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
  if (action !== 'errno') throw schemaError(where, `errno is only meaningful with action errno (action is ${action ?? 'allow'})`);
  if (typeof raw !== 'number' && typeof raw !== 'string') throw schemaError(where, 'errno must be a name or a number');
  return resolveErrno(raw, where);
}

function parseSyscallNames(raw: unknown, where: string): string[] {
  const names = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (!names || names.length === 0) throw schemaError(where, 'syscall must be a name or a non-empty list of names');
  return names.map((name, index) => {
    if (typeof name !== 'string') throw schemaError(`${where}[${index}]`, `syscall name must be a string, got ${JSON.stringify(name)}`);
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
  if (!isPlainObject(raw)) throw schemaError(where, 'must be a mapping with "rules" (and optionally "default", "errno")');
  const top = lowerKeys(raw, ['default', 'errno', 'rules'], where);
  const defaultAction = top.default === undefined || top.default === null ? 'allow' : parseAction(top.default, `${where}.default`);
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
        throw schemaError(`${ruleWhere}.syscall`, `"${name}" is already ${earlier.verdict} in rule ${earlier.rule}, cannot also be ${verdict}`);
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

function returnValue(action: SeccompAction, errno: number | string | undefined, where: string): number {
  switch (action) {
    case 'allow':
      return RET_ALLOW;
    case 'log':
      return RET_LOG;
    case 'trap':
      return RET_TRAP;
    case 'kill':
      return RET_KILL_PROCESS;
    case 'errno':
      return (RET_ERRNO | (errno === undefined ? DEFAULT_ERRNO : resolveErrno(errno, where))) >>> 0;
  }
}

/** One classic BPF instruction: struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }. */
interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}
const statement = (code: number, k: number): Instruction => ({ code, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): Instruction => ({ code, jt, jf, k });

/**
 * A SeccompConfig → the BPF program bwrap loads from `--add-seccomp-fd` (an array of 8-byte
 * sock_filter records in host byte order, little-endian on both supported architectures).
 *
 * Layout: check arch (kill otherwise) → load nr → [x86_64: kill x32] → one `jeq nr; ret verdict`
 * pair per syscall whose verdict differs from the default → `ret default`. Jumps are all local
 * (0 or 1), so the 8-bit jump offsets never overflow whatever the rule count.
 */
export function compileSeccomp(config: SeccompConfig, arch: SeccompArch): Buffer {
  const table = SYSCALL_NUMBERS[arch];
  if (!table) throw new RedpakError('schema', `seccomp: unsupported architecture "${arch}" (supported: ${SUPPORTED_ARCHES.join(', ')})`);
  const defaultAction = config.default ?? 'allow';
  const defaultVerdict = returnValue(defaultAction, config.errno, 'seccomp.errno');

  const program: Instruction[] = [
    statement(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
    jump(BPF_JEQ_K, AUDIT_ARCH[arch], 1, 0),
    statement(BPF_RET_K, RET_KILL_PROCESS),
    statement(BPF_LD_W_ABS, SECCOMP_DATA_NR),
  ];
  if (arch === 'x86_64') program.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1), statement(BPF_RET_K, RET_KILL_PROCESS));

  const emitted = new Set<number>();
  config.rules.forEach((rule, index) => {
    const where = `seccomp.rules[${index}]`;
    const verdict = returnValue(rule.action, rule.errno, `${where}.errno`);
    for (const name of typeof rule.syscall === 'string' ? [rule.syscall] : rule.syscall) {
      const number = table[name];
      if (number === undefined) {
        if (isKnownSyscall(name)) continue; // exists elsewhere, cannot be called on this arch
        throw unknownSyscall(`${where}.syscall`, name);
      }
      // First rule wins, as in the validator's duplicate check; same-as-default rules are no-ops.
      if (emitted.has(number) || verdict === defaultVerdict) continue;
      emitted.add(number);
      program.push(jump(BPF_JEQ_K, number, 0, 1), statement(BPF_RET_K, verdict));
    }
  });
  program.push(statement(BPF_RET_K, defaultVerdict));

  if (program.length > MAX_BPF_INSTRUCTIONS) {
    throw new RedpakError('schema', `seccomp: the filter needs ${program.length} BPF instructions, the kernel accepts at most ${MAX_BPF_INSTRUCTIONS}`);
  }
  const buffer = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    buffer.writeUInt16LE(instruction.code, index * 8);
    buffer.writeUInt8(instruction.jt, index * 8 + 2);
    buffer.writeUInt8(instruction.jf, index * 8 + 3);
    buffer.writeUInt32LE(instruction.k >>> 0, index * 8 + 4);
  });
  return buffer;
}

/**
 * One filter per node that has a seccomp section, root-most first (the order bwrap installs them;
 * the kernel's verdict does not depend on it, but dumps read naturally).
 */
export function compileFamilySeccomp(configs: (SeccompConfig | undefined)[], arch: SeccompArch): Buffer[] {
  return configs.filter((config): config is SeccompConfig => config !== undefined).map((config) => compileSeccomp(config, arch));
}

/** bwrap arguments for filters passed on consecutive file descriptors starting at `firstFd`. */
export function seccompBwrapArgs(firstFd: number, filterCount: number): string[] {
  return Array.from({ length: filterCount }, (_, index) => ['--add-seccomp-fd', String(firstFd + index)]).flat();
}
