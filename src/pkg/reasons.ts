/**
 * Why each of a node's packages is installed, as dnf records it: asked for by name ('user') or
 * pulled in by another package ('dependency'). Kept in NODE/var/lib/dnf/redpak-reasons.json,
 * written in the same staged transaction as the packages. A package the file does not name
 * (installed before the file existed, or by rpm directly) counts as asked for: only packages known
 * to be dependencies are ever removed as unused.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import type { TransactionStep } from './solver.js';

export type InstallReason = 'user' | 'dependency';
export type Reasons = Record<string, InstallReason>;

/** Relative to the node. */
export const REASONS_FILE = 'var/lib/dnf/redpak-reasons.json';

export function readReasons(nodeRoot: string): Reasons {
  const file = join(nodeRoot, REASONS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as Reasons;
  } catch (error) {
    throw new RedpakError('io', `${file} is not valid JSON: ${(error as Error).message}`, {
      hint: 'move it away: every package then counts as asked for',
    });
  }
}

/** The file's text. */
export function reasonsText(reasons: Reasons): string {
  return `${JSON.stringify(reasons, null, 2)}\n`;
}

/** Outside a transaction (mark): replaced in one rename. */
export function writeReasons(nodeRoot: string, reasons: Reasons): void {
  const file = join(nodeRoot, REASONS_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, reasonsText(reasons), { temp: `${file}.${process.pid}` });
}

/** name-[epoch:]version-release.arch → name */
function nameOf(nevra: string): string {
  return nevra.replace(/-[^-]+-[^-]+$/, '');
}

/**
 * The reasons after a transaction. A package asked for stays asked for when it is reinstalled,
 * upgraded or downgraded, and one that obsoletes another takes over its reason (as dnf does).
 */
export function nextReasons(before: Reasons, steps: readonly TransactionStep[]): Reasons {
  const after: Reasons = { ...before };
  for (const step of steps) {
    if (step.action === 'erase') {
      if (!steps.some((s) => s !== step && s.action !== 'erase' && s.name === step.name)) delete after[step.name];
      continue;
    }
    const replaced = (step.replaces ?? []).map(nameOf).filter((n) => n !== step.name);
    const asked =
      step.reason === 'user' || before[step.name] === 'user' || replaced.some((n) => before[n] !== 'dependency');
    if (step.action === 'install' || step.action === 'obsolete') after[step.name] = asked ? 'user' : 'dependency';
    for (const n of replaced) delete after[n];
  }
  return after;
}
