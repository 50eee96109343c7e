/**
 * How many operands each bwrap option takes (bwrap(1)), for every option a plan or a launch
 * passes: the one table that the dump, the explanation and the launch proof read argument lists
 * with. An option not listed takes none.
 */
const OPERANDS: Readonly<Record<string, number>> = {
  '--bind': 2,
  '--ro-bind': 2,
  '--symlink': 2,
  '--file': 2,
  '--ro-bind-data': 2,
  '--setenv': 2,
  '--dir': 1,
  '--tmpfs': 1,
  '--dev': 1,
  '--proc': 1,
  '--mqueue': 1,
  '--lock-file': 1,
  '--unsetenv': 1,
  '--cap-add': 1,
  '--cap-drop': 1,
  '--hostname': 1,
  '--chdir': 1,
  '--add-seccomp-fd': 1,
};

function bwrapOperandCount(option: unknown): number {
  return typeof option === 'string' ? (OPERANDS[option] ?? 0) : 0;
}

/** An argument list cut into options, each with its operands: [['--bind', 'a', 'b'], ['--unshare-pid'], …]. */
export function bwrapOptions<T>(args: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < args.length; ) {
    const end = i + 1 + bwrapOperandCount(args[i]);
    out.push(args.slice(i, end));
    i = end;
  }
  return out;
}

/** Whether the list passes `option` as an option (not as another option's operand). */
export function hasBwrapOption(args: readonly unknown[], option: string): boolean {
  return bwrapOptions(args).some((group) => group[0] === option);
}
