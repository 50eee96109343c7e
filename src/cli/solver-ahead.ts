/**
 * The solver start.cjs started ahead for a command line (docs/solver-protocol.md, "Started
 * ahead"): a transaction's, given to the quick start (cli/quick-transaction.ts), or a query's,
 * given to the full bundle (cli/run.ts). Held for the command: the first options built from its
 * flags (transaction-command.ts `commonOptions`) take it; whoever held it kills it once the
 * command ended if none did. One command per process, so one holder.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { adoptSolver, type PreparedSolver, type SolverMode } from '../pkg/solver.js';

let held: PreparedSolver | undefined;

/** Taken over in the tick it was spawned in (none of its events has been emitted yet). */
export function holdSolverAhead(child: ChildProcessWithoutNullStreams, mode: SolverMode): void {
  held = adoptSolver(child, mode);
}

/** The held solver, once; undefined after, or when none was started. */
export function takeSolverAhead(): PreparedSolver | undefined {
  const solver = held;
  held = undefined;
  return solver;
}

/** Kills the held solver if nothing took it. */
export function releaseSolverAhead(): void {
  takeSolverAhead()?.discard();
}
