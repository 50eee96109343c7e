/**
 * Seccomp filters compiled to classic BPF (no libseccomp at run time). Pure: no I/O. The
 * `seccomp:` section they are compiled from, and its validation, are config/seccomp.ts's.
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
 * - A name that exists on some architecture but not the target one (e.g. `mkdir` on aarch64,
 *   which only has `mkdirat`) is skipped for that target, since no process can call it there.
 */
import { RedpakError } from '../errors.js';
import {
  DEFAULT_ERRNO,
  isKnownSyscall,
  resolveErrno,
  SUPPORTED_ARCHES,
  unknownSyscall,
  type SeccompAction,
  type SeccompConfig,
} from '../config/seccomp.js';
import { SYSCALL_NUMBERS, type SeccompArch } from '../config/syscalls.js';

export type { SeccompArch } from '../config/syscalls.js';

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

/** The architecture of the running Node process, or undefined when the compiler cannot target it. */
export function nativeSeccompArch(nodeArch: string = process.arch): SeccompArch | undefined {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  return undefined;
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
  if (!table)
    throw new RedpakError(
      'schema',
      `seccomp: unsupported architecture "${arch}" (supported: ${SUPPORTED_ARCHES.join(', ')})`,
    );
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
    throw new RedpakError(
      'schema',
      `seccomp: the filter needs ${program.length} BPF instructions, the kernel accepts at most ${MAX_BPF_INSTRUCTIONS}`,
    );
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
  return configs
    .filter((config): config is SeccompConfig => config !== undefined)
    .map((config) => compileSeccomp(config, arch));
}

/** bwrap arguments for filters passed on consecutive file descriptors starting at `firstFd`. */
export function seccompBwrapArgs(firstFd: number, filterCount: number): string[] {
  return Array.from({ length: filterCount }, (_, index) => ['--add-seccomp-fd', String(firstFd + index)]).flat();
}
