/**
 * Recovery of interrupted package transactions (docs/transactions.md): before a command reads or
 * changes a node's packages, a stage left in the node by a killed transaction is dropped (never
 * committed: the node is as it was) or its committed merge is completed (the node gets its new
 * state), under the family lock. When the lock is held, a live transaction owns the stage and
 * nothing is done. An ordinary user recovers only the nodes they own (src/pkg/ownership.ts): a
 * stage in another user's node is left to its owner, and a committed merge pending there is an
 * error, since the node's files and database may disagree until it is completed.
 *
 * The library never prints: what was recovered is returned, and queued for the command line,
 * which shows it on stderr (src/pkg/recovery-notices.ts, src/cli/base-command.ts).
 */
import { dirname } from 'node:path';
import { isNodeDir } from '../node/load.js';
import { RedpakError } from '../errors.js';
import { tryAcquireFamilyLock } from './lock.js';
import { accountLabel } from '../system/accounts.js';
import { foreignPart } from './ownership.js';
import { reportRecovery, type RecoveryNotice } from './recovery-notices.js';
import { interruptedStage, pendingMerge, recoverStage } from './view.js';

export type { RecoveryNotice };

/** The root-most node at or above a node's host path (where the family lock lives). */
export function familyTopOf(nodeHostPath: string): string {
  let top = nodeHostPath;
  for (let dir = dirname(nodeHostPath); dir !== '/' && dir !== '.'; dir = dirname(dir)) if (isNodeDir(dir)) top = dir;
  return top;
}

/**
 * Recovers the interrupted transactions of the given nodes of one family (host paths), whose
 * root-most node is `top` (default: found by walking up from the first). Cheap when there is
 * none: one lstat per node.
 */
export function recoverInterrupted(nodes: readonly string[], top?: string): RecoveryNotice[] {
  const interrupted = [...new Set(nodes)].filter(interruptedStage);
  if (interrupted.length === 0) return [];
  const lock = tryAcquireFamilyLock(top ?? familyTopOf(interrupted[0]), 'recover an interrupted package transaction');
  if (!lock) return [];
  try {
    for (const node of interrupted.filter((n) => foreignPart(n) && pendingMerge(n))) {
      const owner = accountLabel(foreignPart(node)?.uid ?? 0);
      throw new RedpakError(
        'io',
        `node ${node} (owned by ${owner}) holds an interrupted package transaction whose merge is not completed`,
        {
          hint: `${owner} completes it with any redwrap-dnf command on that node, e.g. redwrap-dnf --redpath ${node} list --installed`,
        },
      );
    }
    const notices = interrupted
      .filter((n) => !foreignPart(n))
      .map(recoverStage)
      .filter((n): n is RecoveryNotice => n !== undefined);
    for (const n of notices) reportRecovery(n);
    return notices;
  } finally {
    lock.release();
  }
}
