/**
 * A tiny classic-BPF interpreter for seccomp programs (test helper). It lets tests compare what
 * two filters decide for every syscall number without loading either into the kernel: the way
 * our compiler's output is cross-checked against libseccomp's, whose instruction layout differs.
 * Only the instructions seccomp filters without argument checks use are implemented; anything
 * else throws, so an unexpected libseccomp layout fails the test loudly instead of passing.
 */
export interface SeccompData {
  nr: number;
  arch: number;
}

const LD_W_ABS = 0x20;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JGT_K = 0x25;
const JMP_JGE_K = 0x35;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;

/** Runs `program` on one seccomp_data and returns the 32-bit SECCOMP_RET_* value. */
export function runSeccompBpf(program: Buffer, data: SeccompData): number {
  const count = program.length / 8;
  let accumulator = 0;
  for (let pc = 0; pc < count; pc++) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case LD_W_ABS:
        if (k === 0) accumulator = data.nr >>> 0;
        else if (k === 4) accumulator = data.arch >>> 0;
        else throw new Error(`bpf: load of seccomp_data offset ${k} not modelled`);
        break;
      case JMP_JA:
        pc += k;
        break;
      case JMP_JEQ_K:
        pc += accumulator === k ? jt : jf;
        break;
      case JMP_JGT_K:
        pc += accumulator > k ? jt : jf;
        break;
      case JMP_JGE_K:
        pc += accumulator >= k ? jt : jf;
        break;
      case JMP_JSET_K:
        pc += (accumulator & k) !== 0 ? jt : jf;
        break;
      case RET_K:
        return k;
      default:
        throw new Error(`bpf: opcode 0x${code.toString(16)} at ${pc} not modelled`);
    }
  }
  throw new Error('bpf: program fell off its end');
}

/** SECCOMP_RET_* → a readable verdict; both kill flavours (thread, process) read as "kill". */
export function verdictName(ret: number): string {
  const action = (ret & 0xffff0000) >>> 0;
  if (action === 0x80000000 || action === 0) return 'kill';
  if (action === 0x00030000) return 'trap';
  if (action === 0x00050000) return `errno ${ret & 0xffff}`;
  if (action === 0x7ffc0000) return 'log';
  if (action === 0x7fff0000) return 'allow';
  return `0x${ret.toString(16)}`;
}
