/**
 * The node's own transaction history, kept in NODE/var/lib/dnf/redpak-history.json and written in
 * the same staged transaction as the packages (so a rolled-back transaction leaves no entry).
 */
import { readFileSync } from 'node:fs';
import { RedpakError } from '../errors.js';
import type { SolverJob, StepAction } from './solver.js';

export interface HistoryStep {
  action: StepAction;
  nevra: string;
  name: string;
  /** Packages this one replaced (upgrade, downgrade, obsolete). */
  replaces?: string[];
  /** Asked for, pulled in as a dependency, or removed as unused (TransactionStep.reason). */
  reason?: 'user' | 'dependency' | 'unused';
}

export interface HistoryEntry {
  id: number;
  /** ISO date. */
  time: string;
  /** What was asked, e.g. "install redhello". */
  command: string;
  steps: HistoryStep[];
}

export function readHistory(file: string): HistoryEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    return JSON.parse(text) as HistoryEntry[];
  } catch (error) {
    throw new RedpakError('io', `history file ${file} is not valid JSON: ${(error as Error).message}`, {
      hint: 'move it away to start a new history',
    });
  }
}

export function appendHistory(entries: readonly HistoryEntry[], entry: Omit<HistoryEntry, 'id'>): HistoryEntry[] {
  const id = entries.reduce((max, e) => Math.max(max, e.id), 0) + 1;
  return [...entries, { id, ...entry }];
}

/** The jobs that undo a transaction: what it brought in goes, what it removed or replaced comes back. */
export function undoJobs(entry: HistoryEntry): SolverJob[] {
  const jobs: SolverJob[] = [];
  for (const step of entry.steps) {
    switch (step.action) {
      case 'install':
        jobs.push({ op: 'erase', what: step.nevra });
        break;
      case 'erase':
        jobs.push({ op: 'install', what: step.nevra });
        break;
      case 'upgrade':
      case 'downgrade':
        for (const old of step.replaces ?? []) jobs.push({ op: 'install', what: old });
        break;
      case 'obsolete':
        jobs.push({ op: 'erase', what: step.nevra });
        for (const old of step.replaces ?? []) jobs.push({ op: 'install', what: old });
        break;
      case 'reinstall':
        break;
    }
  }
  return jobs;
}
