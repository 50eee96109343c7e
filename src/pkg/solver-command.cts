/**
 * The command line that runs the solver (docs/solver-protocol.md, "Running it"), in one place for
 * the two that start it: pkg/solver.ts, and cli/start.cts, which starts it ahead of a transaction or
 * a query before the executable's bundle loads ("Started ahead"). CommonJS, so that start.cjs requires it
 * without the library.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The python interpreter that has the Debian `solv` module. */
export function solverPython(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDPAK_PYTHON ?? '/usr/bin/python3';
}

/**
 * The solver's Python package: src/pkg/redsolver of the installed package (shipped as source), or
 * the copy REDPAK_SOLVER_DIR names (a development tree), used as given.
 */
export function solverDirectory(packageRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.REDPAK_SOLVER_DIR || join(packageRoot, 'src/pkg/redsolver');
}

/**
 * The interpreter's arguments. -I: isolated mode, neither the user's environment variables,
 * site-packages nor the working directory can change what the solver imports. -S: no `site` at
 * start-up; __main__.py adds the site directories itself, without running their .pth files (a
 * third of Python's start-up here). The file, not the directory: no runpy to import. `prepare`:
 * the mode whose modules it loads before reading the request.
 */
export function solverArguments(directory: string, prepare?: string): string[] {
  return ['-I', '-S', join(directory, '__main__.py'), ...(prepare === undefined ? [] : ['--prepare', prepare])];
}

/**
 * A solver for a request of `mode` started now, its request to come on stdin; undefined where the
 * interpreter or the package is missing (the command then reports it as it would).
 */
export function startSolverAhead(
  packageRoot: string,
  mode: 'solve' | 'query',
): ChildProcessWithoutNullStreams | undefined {
  const python = solverPython();
  const directory = solverDirectory(packageRoot);
  if (!existsSync(python) || !existsSync(join(directory, '__main__.py'))) return undefined;
  const child = spawn(python, solverArguments(directory, mode), { stdio: 'pipe' });
  // An interpreter that cannot start is the command's to report, from its own solver.
  child.on('error', () => undefined);
  return child;
}
