/**
 * A node ready for packages: created from templates (src/node/factory.ts), with its own empty rpm
 * database, and — for a new family root on a host without an rpm database (Debian) — the host's
 * capabilities registered in the root's database so that real packages resolve against it.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { RedpakError } from '../errors.js';
import { createNode, type CreatedNode, type CreateNodeRequest } from '../node/factory.js';
import { Sysroot } from '../node/layout.js';
import { loadFamily } from '../node/load.js';
import { registerHost } from './manager.js';
import { hasRpmDb, initDb } from './rpm.js';

export interface PackageNodeRequest extends CreateNodeRequest {
  /** Register the host's capabilities in a new family root (default: when the host has no rpm database and no sysroot). */
  hostProvides?: boolean;
}

export interface PackageNodeResult {
  nodes: CreatedNode[];
  /** The root node where the host's capabilities were registered, when that was done. */
  hostProvides?: { node: string; nevra: string; count: number };
}

export async function createPackageNode(request: PackageNodeRequest): Promise<PackageNodeResult> {
  const nodes = createNode(request);
  const sysroot = Sysroot.open(request.sysroot);
  try {
    for (const node of nodes) await initDb(node.hostPath);
    const wanted = request.hostProvides ?? (sysroot.isHost && !hasRpmDb('/'));
    const root = nodes.find((n) => n.action === 'created' && loadFamily(n.path, { sysroot }).nodes.length === 1);
    if (!wanted || !root) return { nodes };
    const registered = await registerHost({ redpath: root.path, sysroot: request.sysroot, host: request.host });
    return {
      nodes,
      hostProvides: { node: registered.node, nevra: registered.nevra, count: registered.provides.length },
    };
  } catch (error) {
    // The nodes just created go with the failure: none is left half-ready.
    for (const node of [...nodes].reverse())
      if (node.action === 'created') rmSync(node.hostPath, { recursive: true, force: true });
    if (error instanceof RedpakError) throw error;
    throw new RedpakError(
      'tool-failed',
      `cannot prepare the rpm database of ${nodes.at(-1)?.path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * What the administrator of a family of unsigned packages writes (the demo's, the test fixtures'):
 * `gpgcheck: false` instead of the `gpgcheck: true` of a node config (the system template's),
 * which is a floor no .repo file lowers. The file must set `gpgcheck: true`.
 */
export function acceptUnsignedPackages(configFile: string): void {
  const text = readFileSync(configFile, 'utf8');
  const pattern = /^(\s+gpgcheck:)\s*true\s*$/m;
  if (!pattern.test(text))
    throw new RedpakError('schema', `${configFile} does not set gpgcheck: true`, {
      hint: 'give the config of the node that requires signature checks (the system node)',
    });
  // In place: the file keeps its owner (a user's own family) and mode.
  writeFileSync(configFile, text.replace(pattern, '$1 false'));
}
