/**
 * A node ready for packages: created from templates (src/node/factory.ts), with its own empty rpm
 * database, and — for a new family root on a host without an rpm database (Debian) — the host's
 * capabilities registered in the root's database so that real packages resolve against it.
 */
import { rmSync } from 'node:fs';
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
