/**
 * Who may change a node's packages. Root may change any node; an ordinary user only the nodes
 * whose directory and rpm database they own: in a shared family, root's system and platform
 * nodes are read for resolution and never written, and a transaction aimed at one is refused
 * before anything is downloaded, naming the node and its owner.
 *
 * Trust: the owner is read from the file system (stat), which only root and the owner can change.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { RPMDB_DIR } from '../node/layout.js';
import { accountLabel } from '../system/accounts.js';

/** The uid owning a path, or undefined when it does not exist. */
function ownerUid(path: string): number | undefined {
  try {
    return lstatSync(path).uid;
  } catch {
    return undefined;
  }
}

/**
 * The path of the node (its directory, then its rpm database) that this process does not own,
 * with its owner; undefined when the process may change the node (root, or the owner of both).
 */
export function foreignPart(nodeHostPath: string): { path: string; uid: number } | undefined {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return undefined;
  for (const path of [nodeHostPath, join(nodeHostPath, RPMDB_DIR)]) {
    const owner = ownerUid(path);
    if (owner !== undefined && owner !== uid) return { path, uid: owner };
  }
  return undefined;
}

/** Refuses (family-rule) to change a node this process does not own. `label` names it in the message. */
export function assertMayChange(nodeHostPath: string, label: string): void {
  const foreign = foreignPart(nodeHostPath);
  if (!foreign) return;
  const me = accountLabel(process.getuid?.() ?? 0);
  const what = foreign.path === nodeHostPath ? '' : ` (its rpm database ${foreign.path})`;
  throw new RedpakError(
    'family-rule',
    `node ${label} is owned by ${accountLabel(foreign.uid)}${what}: ${me} may read it for resolution but never change it`,
    {
      hint: `install into a node of your own (e.g. one created under a directory ${accountLabel(foreign.uid)} handed to you), or ask ${accountLabel(foreign.uid)} to change ${label}`,
    },
  );
}
