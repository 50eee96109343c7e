/**
 * Loaded first in every file of the fast lane (`npm test -- --fast`, scripts/run-tests.mjs): a
 * fast test runs no process. Starting one (a command of the product included) throws, and the
 * file fails at exit even if the error was caught, naming what was started: such a test belongs
 * in its folder's ordinary run, not in test/fast-lane.txt (test/README.md).
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

const STARTERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;

/** The test runner itself loads this module too (node passes --import on): it must start the test files. */
const isTestRunner = process.execArgv.some((arg) => arg === '--test' || arg.startsWith('--test='));

if (!isTestRunner) {
  const started: string[] = [];
  const starters = childProcess as unknown as Record<(typeof STARTERS)[number], unknown>;
  for (const name of STARTERS) {
    starters[name] = (command: unknown, args?: unknown) => {
      const line = [String(command), ...(Array.isArray(args) ? args.map(String) : [])].join(' ');
      started.push(`${name}(${line})`);
      throw new Error(`a test of the fast lane started a process: ${line} (see test/README.md)`);
    };
  }
  // The ES module bindings of node:child_process (import { spawn } from …) follow the patched functions.
  syncBuiltinESMExports();
  process.on('exit', () => {
    if (started.length === 0) return;
    process.stderr.write(`fast lane: ${process.argv[1]} started processes:\n  ${started.join('\n  ')}\n`);
    process.exitCode = 1;
  });
}
