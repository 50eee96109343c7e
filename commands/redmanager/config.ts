import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { Sysroot } from '../../src/node/layout.js';
import { loadNode, nodeTarget } from '../../src/node/load.js';
import { canonicalConfigObject, statusObject, toYaml } from '../../src/config/serialize.js';
import { RedpakError } from '../../src/errors.js';

/** `--json` result: one node's files, parsed; `admin` is absent when the node has no admin config. */
export interface ConfigResult {
  path: string;
  status: Record<string, unknown>;
  files: { normal: string; admin?: string; status: string };
  normal: Record<string, unknown>;
  admin?: Record<string, unknown>;
}

export default class Config extends RedpakCommand {
  static override summary = "Show one node's parsed configs and status.";
  static override description =
    "Prints the node's normal and admin configs in canonical form (keys in redpak order, enum values in canonical case, defaults written out) and its status. Nothing is merged or expanded: see mergeconfig for that.";
  static override examples = [
    '<%= config.bin %> config --redpath /var/redpak/platform',
    '<%= config.bin %> config --redpath /var/redpak/platform --json',
  ];
  static override flags = { redpath: redpathFlag, root: sysrootFlag };

  async run(): Promise<ConfigResult> {
    const { flags } = await this.parse(Config);
    const sysroot = Sysroot.open(flags.root);
    const path = nodeTarget(sysroot, flags.redpath);
    const node = loadNode(sysroot, path, { admin: true });
    if (!node)
      throw new RedpakError('not-a-node', `${path} is not a node (no .rednode.yaml in ${sysroot.toHost(path)})`);
    const result: ConfigResult = {
      path: node.path,
      status: statusObject(node.status),
      files: { normal: node.normal.file, ...(node.admin ? { admin: node.admin.file } : {}), status: node.statusFile },
      normal: canonicalConfigObject(node.normal),
      ...(node.admin ? { admin: canonicalConfigObject(node.admin) } : {}),
    };
    this.log(`# REDNODE CONFIG ${node.normal.file}\n${toYaml(result.normal)}`);
    if (result.admin && node.admin) this.log(`# REDNODE ADMIN CONFIG ${node.admin.file}\n${toYaml(result.admin)}`);
    this.log(`# REDNODE STATUS ${node.statusFile}\n${toYaml(result.status)}`);
    return result;
  }
}
