import { Args, Flags } from '@oclif/core';
import { RedpakError } from '../../src/errors.js';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { transactionFlags } from '../../src/cli/pkg-commands.js';
import { commonOptions } from '../../src/cli/common-options.js';
import { runTransaction } from '../../src/cli/transaction-command.js';
import {
  groupInfo,
  groupInstall,
  groupList,
  groupRemove,
  type GroupStatus,
  type TransactionResult,
} from '../../src/pkg/manager.js';

/**
 * `--json` result: `group list`: `{groups: [GroupStatus]}`; `group info`: `{groups: [GroupStatus with packages]}`
 * (GroupStatus: `{id, name, description, uservisible, installed, repos, packages?: [{name, type, requires?}],
 * installedPackages?}`); `group install`, `group remove`: a TransactionResult (see `install --help`).
 */
export type GroupResult = { groups: GroupStatus[] } | TransactionResult;

const TYPE_TITLES = [
  ['mandatory', 'Mandatory Packages'],
  ['default', 'Default Packages'],
  ['optional', 'Optional Packages'],
  ['conditional', 'Conditional Packages'],
] as const;

export default class Group extends RedpakCommand {
  static override summary = 'Package groups (comps) of the repositories: list, info, install, remove.';
  static override description =
    `group list [PATTERN…]: the groups of the node's repositories (createrepo_c -g comps.xml) and those installed in the node; --installed, --available, --hidden (also groups not meant to be shown).
group info GROUP…: a group's packages by type (mandatory, default, optional, conditional).
group install GROUP…: a transaction installing the mandatory and default packages (--with-optional: the optional ones too; a conditional one when the package it names is in the family or coming); the node records the group and which packages it brought in. A package an ancestor has is left to it; one no repository has is skipped with a warning.
group remove GROUP…: removes the packages the group brought in, unless another installed group has them, the user asked for them by name since, or another package of the node requires them; and the dependencies nothing needs any more.
GROUP is an id or a name, with * and ? globs, case-insensitive. \`install @GROUP\` and \`remove @GROUP\` do the same. An unknown group exits 7 and suggests the closest id.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app group list --hidden',
    "<%= config.bin %> --redpath /var/redpak/platform/app group info 'Red*'",
    '<%= config.bin %> --redpath /var/redpak/platform/app -y group install redapps --with-optional',
    '<%= config.bin %> --redpath /var/redpak/platform/app -y group remove redapps',
  ];
  static override strict = false;
  static override args = {
    action: Args.string({
      description: 'list, info, install or remove',
      options: ['list', 'info', 'install', 'remove'],
      required: true,
    }),
    groups: Args.string({ description: 'group ids or names (globs allowed)' }),
  };
  static override flags = {
    ...transactionFlags,
    installed: Flags.boolean({ description: 'list: only the groups installed in the node', exclusive: ['available'] }),
    available: Flags.boolean({ description: 'list: only the groups not installed', exclusive: ['installed'] }),
    hidden: Flags.boolean({ description: 'list: also the groups not meant to be shown (uservisible false)' }),
    ids: Flags.boolean({ description: 'list: show the group ids too' }),
    'with-optional': Flags.boolean({ description: "install: also the groups' optional packages" }),
  };

  async run(): Promise<GroupResult> {
    const { args, argv, flags } = await this.parse(Group);
    const patterns = (argv as string[]).slice(1);
    const options = commonOptions(flags);
    if (args.action === 'list') {
      const groups = await groupList({
        ...options,
        patterns,
        installed: flags.installed,
        available: flags.available,
        hidden: flags.hidden,
      });
      const show = (g: GroupStatus) => `   ${g.name}${flags.ids || flags.verbose ? ` (${g.id})` : ''}`;
      const installed = groups.filter((g) => g.installed);
      const available = groups.filter((g) => !g.installed);
      if (installed.length) this.log(['Installed Groups:', ...installed.map(show)].join('\n'));
      if (available.length) this.log(['Available Groups:', ...available.map(show)].join('\n'));
      if (groups.length === 0 && patterns.length) this.warnLine(`no groups match: ${patterns.join(', ')}`);
      return { groups };
    }
    if (patterns.length === 0)
      throw new RedpakError('usage', `group ${args.action} needs at least one group`, {
        hint: `\`${this.config.bin} --redpath ${flags.redpath} group list --hidden\` lists them`,
      });
    if (args.action === 'info') {
      const groups = await groupInfo({ ...options, patterns });
      for (const g of groups) {
        const lines = [`Group: ${g.name}`, ` Group-Id: ${g.id}`, ` Description: ${g.description}`];
        if (g.installed) lines.push(' Installed: yes');
        for (const [type, title] of TYPE_TITLES) {
          const of = (g.packages ?? []).filter((p) => p.type === type);
          if (of.length === 0) continue;
          lines.push(` ${title}:`);
          for (const p of of) lines.push(`   ${p.name}${p.requires ? ` (if ${p.requires})` : ''}`);
        }
        this.log(lines.join('\n'));
      }
      return { groups };
    }
    if (args.action === 'install')
      return runTransaction(flags, this.jsonEnabled(), (o) =>
        groupInstall({ ...o, patterns, withOptional: flags['with-optional'] }),
      );
    return runTransaction(flags, this.jsonEnabled(), (o) => groupRemove({ ...o, patterns }));
  }
}
