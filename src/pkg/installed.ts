/**
 * What a node has installed, as commands read it: after an interrupted transaction of the node is
 * recovered (pkg/recovery.ts), since a transaction killed in its merge leaves a database that must
 * not be read as is. Above recovery, so that pkg/rpm.ts stays the bottom of the package layer.
 */
import { readPackageDb, type InstalledPackage } from './rpm.js';
import { recoverInterrupted } from './recovery.js';

/** Every package installed in the node (gpg-pubkey entries excluded unless asked for). */
export async function queryPackages(
  nodeRoot: string,
  options: { includeKeys?: boolean } = {},
): Promise<InstalledPackage[]> {
  recoverInterrupted([nodeRoot]);
  return readPackageDb(nodeRoot, options);
}
