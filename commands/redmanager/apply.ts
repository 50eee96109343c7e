import { Args, Flags } from '@oclif/core';
import { RedpakCommand, sysrootFlag } from '../../src/cli/base-command.js';
import { applyRecipe, type ApplyResult } from '../../src/image/recipe-apply.js';

/**
 * `--json` result: `{recipe, root, mode, changed, plan: [line], nodes: [{path, alias, created,
 * systemNode?, configUpdated, state?, repos, hostProvides, transaction?: {status, historyId?,
 * packages: [{action, nevra, repo}]}}], lock: {file, written, nodes, packages}, warnings}`
 * (docs/json-output.md, "redmanager apply").
 */
export type ApplyCommandResult = ApplyResult;

export default class Apply extends RedpakCommand {
  static override summary = 'Build or update a whole family of nodes from a recipe file, and write its lock file.';
  static override description =
    `A recipe (YAML) lists the nodes (path, alias, template or inline config, enabled), the repositories and the packages of each node, with optional "name = VERSION-RELEASE" pins. See docs/image-build.md.
Nodes are applied parents first, each as one step: creation or config rewrite, repository files, then one package transaction. A step that fails is undone and stops the run; the nodes before it stay applied. Applying the same recipe twice changes nothing the second time.
Packages are only installed or moved to their pin; packages not listed are removed only with "prune: true".
The lock file (RECIPE.lock.yaml next to the recipe, or --lock) gets every node's exact packages (NEVRA, sha256 of the .rpm) and the repository metadata revision they came from. With --frozen nothing is resolved: the locked .rpm files are taken from --mirror directories (or the repositories' file:// directories), checked against their sha256, and installed offline; any difference with the recipe, the lock or the mirror is an error before anything changes.`;

  static override examples = [
    '<%= config.bin %> apply image.yaml --dry-run',
    '<%= config.bin %> apply image.yaml --root ./rootfs --json',
    '<%= config.bin %> apply image.yaml --root ./rootfs --frozen --mirror /srv/mirror',
  ];

  static override args = {
    recipe: Args.string({ description: 'the recipe file (YAML)', required: true }),
  };

  static override flags = {
    'dry-run': Flags.boolean({ char: 'n', description: 'print the plan, change nothing, write no lock file' }),
    frozen: Flags.boolean({
      description: "install exactly the lock file's packages from local files, offline; fail on any difference",
    }),
    lock: Flags.string({ description: 'lock file (default: RECIPE.lock.yaml next to the recipe)', helpValue: 'FILE' }),
    mirror: Flags.string({
      description:
        'with --frozen: a directory holding the locked .rpm files (a repository copy, a flat directory or a dnf cache); repeatable',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'DIR',
    }),
    'template-dir': Flags.string({
      description: 'directory of templates (default: $REDNODE_TEMPLATE_DIR, else the templates shipped with redpak)',
    }),
    'lock-wait': Flags.integer({
      description: 'seconds to wait for a family lock held by another transaction',
      default: 0,
    }),
    root: sysrootFlag,
  };

  async run(): Promise<ApplyCommandResult> {
    const { args, flags } = await this.parse(Apply);
    const json = this.jsonEnabled();
    const result = await applyRecipe({
      recipe: args.recipe,
      sysroot: flags.root,
      dryRun: flags['dry-run'],
      frozen: flags.frozen,
      lockFile: flags.lock,
      mirrors: flags.mirror,
      templateDir: flags['template-dir'],
      lockWait: flags['lock-wait'],
      host: this.host(),
      onLine: json ? undefined : (line) => this.log(line),
    });
    if (result.mode === 'dry-run') {
      this.log(result.plan.length ? result.plan.join('\n') : 'nothing to do: the nodes are as the recipe says');
      return result;
    }
    for (const w of result.warnings) this.warnLine(w);
    if (!result.changed) this.log('nothing to do: the nodes are as the recipe says');
    if (result.mode === 'frozen')
      this.log(`installed exactly the lock file ${result.lock.file} (${result.lock.packages} packages)`);
    else
      this.log(
        `${result.lock.written ? 'wrote' : 'unchanged:'} lock file ${result.lock.file} (${result.lock.nodes} nodes, ${result.lock.packages} packages)`,
      );
    return result;
  }
}
