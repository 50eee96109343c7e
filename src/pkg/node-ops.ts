/**
 * What a node records of its packages: generations (list, rollback, mark good), the transaction
 * history, install reasons (mark), and the host's capabilities registered in a family root.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { RPMDB_DIR } from '../node/layout.js';
import type { OpenFamilyOptions, PackageFamily } from './family-context.js';
import { readHistory, type HistoryEntry } from './history.js';
import { detectHostProvides, registerHostProvides } from './rpm.js';
import { queryPackages } from './installed.js';
import { checkPlacement } from './solver.js';
import { readReasons, writeReasons, type InstallReason } from './reasons.js';
import { generationDatabase, listGenerations, markGood, rollbackTo, type Generation } from './generations.js';
import { type CommonOptions, assertCanChange, openFamily, withLock } from './family-ops.js';

/** The node's generations (its state before each transaction), oldest first. */
export function generations(options: OpenFamilyOptions): Generation[] {
  return listGenerations(openFamily(options).nodeRoot);
}

/**
 * Rolls the node back to generation `id` (default: the newest, undoing the last transaction):
 * the transactions from the newest down to it are undone, files and rpm database restored.
 */
export async function rollback(
  options: CommonOptions & { id?: number },
): Promise<{ node: string; undone: Generation[] }> {
  const pf = openFamily(options);
  assertCanChange(pf);
  return withLock(pf, options, 'history rollback', async () => {
    const all = listGenerations(pf.nodeRoot);
    const id = options.id ?? all.at(-1)?.id;
    if (id === undefined)
      throw new RedpakError('package', `node ${pf.node.path} has no generation to roll back to`, {
        hint: 'generations are kept from the next transaction on',
      });
    await assertDescendantsKeep(pf, generationDatabase(pf.nodeRoot, id));
    return { node: pf.node.path, undone: rollbackTo(pf.nodeRoot, id) };
  });
}

/**
 * Rule 4 for a rollback: the node's packages as the generation kept them (`database`, an rpm
 * database directory) must still satisfy every descendant's packages.
 */
async function assertDescendantsKeep(pf: PackageFamily, database: string | undefined): Promise<void> {
  if (!database || pf.descendants.length === 0) return;
  const view = mkdtempSync(join(tmpdir(), 'redpak-rollback-'));
  try {
    cpSync(database, join(view, RPMDB_DIR), { recursive: true });
    const violations = (
      await checkPlacement({ ancestors: [view, ...pf.ancestors.map((a) => a.root)], nodes: pf.descendants })
    ).filter((v) => v.rule !== 'duplicate');
    if (violations.length) {
      throw new RedpakError(
        'family-rule',
        `rolling back node ${pf.node.path} would break its descendants:\n${violations.map((v) => `  ${v.node}: ${v.message}`).join('\n')}`,
        { hint: "remove or change the descendants' packages first, or roll back to a later generation" },
      );
    }
  } finally {
    rmSync(view, { recursive: true, force: true });
  }
}

/** Marks a generation (default: the newest) as known-good: pruning keeps the newest such one. */
export function markGoodGeneration(options: OpenFamilyOptions & { id?: number }): Generation {
  const pf = openFamily(options);
  assertCanChange(pf);
  const id = options.id ?? listGenerations(pf.nodeRoot).at(-1)?.id;
  if (id === undefined) throw new RedpakError('package', `node ${pf.node.path} has no generation yet`);
  return markGood(pf.nodeRoot, id);
}

/** The node's own transactions, oldest first. */
export function history(options: OpenFamilyOptions): HistoryEntry[] {
  return readHistory(openFamily(options).historyFile);
}

/**
 * dnf mark install|remove: record the node's packages as asked for ('user') or as dependencies
 * ('dependency': `autoremove` and `remove` may then take them away once nothing needs them).
 */
export async function mark(
  options: CommonOptions & { names: string[]; reason: InstallReason },
): Promise<{ node: string; reason: InstallReason; marked: string[] }> {
  const pf = openFamily(options);
  assertCanChange(pf);
  const verb = options.reason === 'user' ? 'install' : 'remove';
  return withLock(pf, options, `mark ${verb} ${options.names.join(' ')}`, async () => {
    const installed = new Set((await queryPackages(pf.nodeRoot)).map((p) => p.name));
    const missing = options.names.filter((n) => !installed.has(n));
    if (missing.length > 0) {
      throw new RedpakError('package', `not installed in node ${pf.node.path}: ${missing.join(', ')}`, {
        hint: `mark applies to the node's own packages (redwrap-dnf --redpath ${pf.node.path} list --installed)`,
      });
    }
    writeReasons(pf.nodeRoot, {
      ...readReasons(pf.nodeRoot),
      ...Object.fromEntries(options.names.map((n) => [n, options.reason])),
    });
    return { node: pf.node.path, reason: options.reason, marked: options.names };
  });
}

export interface HostProvidesResult {
  node: string;
  nevra: string;
  /** Capabilities registered. */
  provides: string[];
}

/**
 * Registers what the host provides (/bin/sh, libc sonames, …) in the node's own database, as the
 * virtual package redpak-host-provides: for hosts without an rpm database (Debian), on the
 * family's root node. `extra` capabilities are added to the detected ones.
 */
export async function registerHost(
  options: CommonOptions & { extra?: string[]; detect?: boolean },
): Promise<HostProvidesResult> {
  const pf = openFamily(options);
  assertCanChange(pf);
  return withLock(pf, options, 'host-provides', async () => {
    const provides = [
      ...new Set([...(options.detect === false ? [] : await detectHostProvides()), ...(options.extra ?? [])]),
    ].sort();
    if (provides.length === 0)
      throw new RedpakError('usage', 'no capability to register', { hint: 'give capabilities with --provide CAP' });
    const { nevra } = await registerHostProvides(pf.nodeRoot, provides);
    return { node: pf.node.path, nevra, provides };
  });
}
