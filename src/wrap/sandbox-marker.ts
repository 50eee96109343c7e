/**
 * The mark a launch leaves on its bwrap process, by which `redwrap ps` and `redwrap stop` find
 * the node a sandbox belongs to (docs/operating.md, "What ps trusts").
 *
 * Both launch paths put these arguments first, right after the bwrap binary:
 *
 *   bwrap --setenv REDWRAP_NODE <node real path> [--setenv REDWRAP_ADMIN 1]
 *         --unsetenv REDWRAP_NODE [--unsetenv REDWRAP_ADMIN] <the plan's arguments> -- <program>
 *
 * bwrap applies them in order to its own environment, so the sandbox never sees them: the pair
 * only writes the node into the bwrap process's command line, which the launcher writes from
 * outside the sandbox. Only this exact prefix is read: a config's own `--setenv REDWRAP_NODE`
 * comes later in the arguments and is ignored.
 */
export const NODE_VARIABLE = 'REDWRAP_NODE';
const ADMIN_VARIABLE = 'REDWRAP_ADMIN';

export interface SandboxMark {
  /** The leaf node's real path on this host. */
  node: string;
  admin: boolean;
  /** The program and its arguments, as the launcher gave them (after bwrap's `--`). */
  command: string[];
}

/** The arguments that mark a launch, to put right after the bwrap binary. */
export function sandboxMarkerArgs(nodeRealPath: string, admin: boolean): string[] {
  return admin
    ? [
        '--setenv',
        NODE_VARIABLE,
        nodeRealPath,
        '--setenv',
        ADMIN_VARIABLE,
        '1',
        '--unsetenv',
        NODE_VARIABLE,
        '--unsetenv',
        ADMIN_VARIABLE,
      ]
    : ['--setenv', NODE_VARIABLE, nodeRealPath, '--unsetenv', NODE_VARIABLE];
}

/** How many values each bwrap option a launch can use takes (bwrap(1)); anything else ends the reading. */
const BWRAP_ARITY: Record<string, number> = Object.fromEntries([
  ...['--unshare-user', '--unshare-user-try', '--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts']
    .concat(['--unshare-cgroup', '--unshare-cgroup-try', '--unshare-all', '--share-net', '--die-with-parent'])
    .concat(['--new-session', '--as-pid-1', '--clearenv', '--disable-userns', '--assert-userns-disabled'])
    .map((o) => [o, 0]),
  ...['--unsetenv', '--chdir', '--hostname', '--dir', '--tmpfs', '--dev', '--proc', '--mqueue', '--lock-file']
    .concat(['--seccomp', '--add-seccomp-fd', '--cap-add', '--cap-drop', '--remount-ro', '--uid', '--gid'])
    .concat(['--perms', '--size', '--sync-fd', '--info-fd', '--json-status-fd', '--block-fd', '--userns-block-fd'])
    .concat(['--userns', '--userns2', '--pidns', '--exec-label', '--file-label', '--argv0', '--level-prefix'])
    .map((o) => [o, 1]),
  ...['--setenv', '--bind', '--bind-try', '--ro-bind', '--ro-bind-try', '--dev-bind', '--dev-bind-try']
    .concat(['--symlink', '--file', '--bind-data', '--ro-bind-data', '--chmod', '--bind-fd', '--ro-bind-fd'])
    .map((o) => [o, 2]),
]);

/**
 * The mark in a bwrap process's argv (argv[0] the binary), or undefined when the argv does not
 * start with one. The program is what follows the `--` that ends bwrap's options, found by
 * reading the options with their values (a value may itself be `--`); an option this reader does
 * not know leaves the command unknown (empty), never guessed.
 */
export function readSandboxMark(argv: readonly string[]): SandboxMark | undefined {
  const node = argv[3];
  if (argv[1] !== '--setenv' || argv[2] !== NODE_VARIABLE || !node?.startsWith('/')) return undefined;
  const admin = argv[4] === '--setenv' && argv[5] === ADMIN_VARIABLE;
  const expected = sandboxMarkerArgs(node, admin);
  if (!expected.every((arg, i) => argv[i + 1] === arg)) return undefined;
  let i = 1;
  while (i < argv.length && argv[i] !== '--') {
    const arity = BWRAP_ARITY[argv[i]];
    if (arity === undefined) return { node, admin, command: [] };
    i += 1 + arity;
  }
  return { node, admin, command: argv.slice(i + 1) };
}
