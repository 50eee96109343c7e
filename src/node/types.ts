import type { NodeConfig, NodeStatus } from '../config/types.js';

/** One node of a family, loaded from disk. */
export interface RedNode {
  /** The node's path as seen on the target: what `$NODE_PATH` expands to. Absolute, no trailing `/`. */
  path: string;
  /** Where the node's files are on this machine (`path` under the sysroot, if any). */
  hostPath: string;
  alias: string;
  status: NodeStatus;
  /** Where the status was read from. */
  statusFile: string;
  normal: NodeConfig;
  /** Present only when admin configs were asked for and the node has one. */
  admin?: NodeConfig;
}

/** A leaf and its ancestors, leaf first, root-most last. */
export interface Family {
  /** `/` on a running system; the image directory when building a sysroot. */
  sysroot: string;
  /** Whether admin configs were loaded. */
  admin: boolean;
  nodes: RedNode[];
}
