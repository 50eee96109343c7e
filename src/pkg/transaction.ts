/**
 * Applies a solved transaction to one node with rpm: one `rpm -U` for everything that brings a
 * package in (install, upgrade, downgrade, reinstall, obsolete: rpm handles the replaced
 * package in the same node database), then one `rpm -e` for plain erasures.
 */
import { RedpakError } from '../errors.js';
import { erasePackages, installPackages, type RpmRunReport, type RpmTransactionOptions } from './rpm.js';
import type { TransactionStep } from './solver.js';
import { present } from '../present.js';

export async function applyTransaction(nodeRoot: string, steps: readonly TransactionStep[], options: RpmTransactionOptions = {}): Promise<RpmRunReport> {
  const foreign = steps.find((s) => s.node !== nodeRoot);
  if (foreign) {
    throw new RedpakError('family-rule', `refusing to apply a transaction for node ${nodeRoot}: step ${foreign.action} ${foreign.nevra} belongs to node ${foreign.node}`);
  }
  const incoming = steps.filter((s) => s.action !== 'erase');
  const missing = incoming.find((s) => !s.location);
  if (missing) throw new RedpakError('package', `no package file known for ${missing.nevra}`);
  const installed = await installPackages(
    nodeRoot,
    incoming.map((s) => present(s.location, `the package file of ${s.nevra}`)),
    {
      ...options,
      oldpackage: incoming.some((s) => s.action === 'downgrade'),
      replacepkgs: incoming.some((s) => s.action === 'reinstall'),
    },
  );
  const erased = await erasePackages(
    nodeRoot,
    steps.filter((s) => s.action === 'erase').map((s) => s.nevra),
    options,
  );
  return { warnings: [...installed.warnings, ...erased.warnings] };
}
