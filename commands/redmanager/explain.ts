import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { inspectionHostFacts } from '../../src/system/host-facts.js';
import { explain, renderExplain, type ExplainResult } from '../../src/audit/explain.js';

/**
 * `--json` result: documented in docs/json-output.md ("redmanager explain"):
 * `{node, alias, admin, family, launchable, errors, settings: [{kind, key, value, from?, alsoFrom?, args?, note?, overridden: [{from, value, reason, by}]}], refused: [{kind, key, value, from, message}]}`.
 */
export type ExplainCommandResult = ExplainResult;

export default class Explain extends RedpakCommand {
  static override summary =
    'Every effective sandbox setting of a node, with the node, file and line that set it, and the attempts that lost.';
  static override description =
    `Lists each mount, namespace, capability, environment variable, scalar setting (hostname, umask, …), path, cgroup limit and seccomp rule the node runs with, where it was written, the bwrap arguments it becomes, and every other definition that was overridden (shadowed by a node closer to the leaf, replaced by an ancestor's admin file) or refused (a child loosening what an ancestor forbids, a flag an ancestor turned on that a child turns off).
A node with refused definitions cannot be launched: it is said first, and the settings shown are those without them. Without --admin the admin files are not read (as redwrap without --admin). Nothing is run or created.`;

  static override examples = [
    '<%= config.bin %> explain --redpath /var/redpak/platform/app',
    '<%= config.bin %> explain --redpath /var/redpak/platform/app --admin --json',
  ];
  static override flags = {
    redpath: redpathFlag,
    admin: Flags.boolean({ char: 'a', description: 'include the admin configs (as redwrap --admin)' }),
    root: sysrootFlag,
  };

  async run(): Promise<ExplainCommandResult> {
    const { flags } = await this.parse(Explain);
    const result = explain({
      redpath: flags.redpath,
      admin: flags.admin,
      sysroot: flags.root,
      host: inspectionHostFacts(),
    }); // a config's $(...) is shown, never run
    this.log(renderExplain(result));
    return result;
  }
}
