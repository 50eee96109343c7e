import { Flags } from '@oclif/core';
import { RedpakCommand, sysrootFlag } from '../../src/cli/base-command.js';
import { inspectionHostFacts } from '../../src/system/host-facts.js';
import {
  CHECK_CLASS_MEANING,
  CHECK_CLASSES,
  CHECK_EXIT_CODES,
  checkTree,
  renderCheck,
  renderWhatIf,
  whatIf,
  type CheckResult,
  type WhatIfResult,
} from '../../src/audit/check.js';
import { present } from '../../src/present.js';

/**
 * `--json` result: documented in docs/json-output.md ("redmanager check"). The whole tree:
 * CheckResult `{root, sysroot, checks, nodes: [{path, alias, state, packages, findings}], ok, exitCode, worst?, counts, findings: [Finding]}`;
 * with --upgrade/--remove: WhatIfResult `{node, alias, action, specs, steps, descendants, ok, exitCode, worst?, counts, findings}`.
 * Finding: `{class, rule, node, alias?, message, at?, package?, file?, requirement?, other?, mode?, hint?}`.
 */
export type CheckCommandResult = CheckResult | WhatIfResult;

const exitTable = [...CHECK_CLASSES]
  .reverse()
  .map((c) => `  ${CHECK_EXIT_CODES[c]}  ${c}: ${CHECK_CLASS_MEANING[c]}`)
  .join('\n');

export default class Check extends RedpakCommand {
  static override summary =
    'Prove a tree of nodes coherent, offline: configs, merges, packages, rpm databases, files, cgroup budgets.';
  static override description =
    `Checks every node below --redroot and reports every finding (never only the first), each with its class, node, file/line or package, and a message:
config and merge (every family merges, in normal and admin mode, and could be launched), packages (libsolv: requirements met by the node and its ancestors, no package duplicated from an ancestor, no Conflicts/Obsoletes across the family), rpm databases readable, files as the database says (rpm -V, per node), cgroup budgets (children above or summing above an ancestor's memory.max/pids.max, cpusets outside the ancestor's).
Nothing is changed. The exit status is the most severe class found (0: none):
${exitTable}
A check that cannot run at all exits with the usual statuses (2 usage, 3 not a node, 6 tool missing, …).

With --upgrade or --remove (and --redpath), answers instead whether upgrading or removing packages of that node would break a descendant, by solving the real transaction without applying it (repositories are read for an upgrade).`;

  static override examples = [
    '<%= config.bin %> check --redroot /var/redpak',
    '<%= config.bin %> check --root ./rootfs --redroot /var/redpak --json',
    '<%= config.bin %> check --redpath /var/redpak/platform --upgrade libredfoo',
    '<%= config.bin %> check --redpath /var/redpak/platform --remove libredfoo --json',
  ];

  static override flags = {
    redroot: Flags.string({
      description: 'top node of the tree to check (default: the current directory)',
      helpValue: 'PATH',
      exclusive: ['redpath'],
    }),
    redpath: Flags.string({
      char: 'r',
      description: 'the node to upgrade or remove packages in (with --upgrade or --remove)',
      helpValue: 'PATH',
    }),
    root: sysrootFlag,
    upgrade: Flags.string({
      description: 'what if this package of the --redpath node were upgraded (repeatable; empty string: every package)',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'PKG',
      exclusive: ['remove'],
      dependsOn: ['redpath'],
    }),
    remove: Flags.string({
      description: 'what if this package of the --redpath node were removed (repeatable)',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'PKG',
      exclusive: ['upgrade'],
      dependsOn: ['redpath'],
    }),
    config: Flags.boolean({ description: 'check configs and merges', default: true, allowNo: true }),
    packages: Flags.boolean({
      description: 'check requirements, duplicates and conflicts with libsolv',
      default: true,
      allowNo: true,
    }),
    files: Flags.boolean({
      description: "check files against each node's rpm database (rpm -V)",
      default: true,
      allowNo: true,
    }),
    cgroups: Flags.boolean({ description: 'lint cgroup budgets', default: true, allowNo: true }),
    unowned: Flags.boolean({
      description: 'also list the files of each node that none of its packages owns (class files, rule unowned)',
    }),
    'allow-duplicate': Flags.string({
      description: 'a package name a node may have although an ancestor has it (installed with --forcenode on purpose)',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'NAME',
    }),
    'repo-dir': Flags.string({
      description: 'with --upgrade: also use this local repository directory',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'DIR',
    }),
    'no-repo-files': Flags.boolean({ description: "with --upgrade: ignore the family's .repo files" }),
    cacheonly: Flags.boolean({ char: 'C', description: 'with --upgrade: use cached metadata only' }),
  };

  async run(): Promise<CheckCommandResult> {
    const { flags } = await this.parse(Check);
    if (flags.upgrade || flags.remove) {
      const result = await whatIf({
        redpath: present(flags.redpath, '--redpath (oclif requires it with --upgrade and --remove)'),
        sysroot: flags.root,
        action: flags.upgrade ? 'upgrade' : 'remove',
        specs: (flags.upgrade ?? flags.remove ?? []).filter((s) => s !== ''),
        repoDirs: flags['repo-dir'],
        noRepoFiles: flags['no-repo-files'],
        cacheOnly: flags.cacheonly,
      });
      this.log(renderWhatIf(result));
      process.exitCode = result.exitCode;
      return result;
    }
    if (flags.redpath && !flags.redroot) {
      this.error('--redpath goes with --upgrade or --remove; give the tree to check with --redroot', { exit: 2 });
    }
    const result = await checkTree({
      redroot: flags.redroot ?? '.',
      sysroot: flags.root,
      host: inspectionHostFacts(), // a config's $(...) is shown, never run
      config: flags.config,
      packages: flags.packages,
      files: flags.files,
      cgroups: flags.cgroups,
      unowned: flags.unowned,
      allowDuplicates: flags['allow-duplicate'],
    });
    this.log(renderCheck(result));
    process.exitCode = result.exitCode;
    return result;
  }
}
