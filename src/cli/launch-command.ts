/**
 * How redwrap runs a launch from its command line: the plan compiled (the family's files stamped
 * around it, for the launch cache), its warnings, the plan written for the fast launcher when the
 * launch is plain, `--dump`, then the launch. Both ways of starting one call this module: the
 * oclif command (commands/redwrap/index.ts) and the quick start (cli/quick.ts). It loads no oclif.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { HostFacts } from '../config/expand.js';
import { present, processIds } from '../present.js';
import { dumpText } from '../wrap/dump.js';
import { writeFastPlan } from '../wrap/fast-plan.js';
import { newHostRecord } from '../wrap/host-record.js';
import { compileLaunch, executeLaunch } from '../wrap/launch.js';
import { familyFileCandidates, stampedRead } from '../wrap/stamps.js';
import type { RedwrapOptions } from './redwrap-argv.js';
import { isPlainLaunch, launchRequest, launchWarnings } from './views.js';

/**
 * Runs the launch `options` and `command` ask for (not --dump-only: cli/views.ts dumpOnlyView),
 * with the running system's `host` facts; `warn` prints a warning. Returns the program's exit status.
 */
export async function runLaunch(
  options: RedwrapOptions,
  command: string[],
  host: HostFacts,
  warn: (message: string) => void,
): Promise<number> {
  const redpath = present(options.redpath, '--redpath (the argument grammar requires it)');
  const plain = isPlainLaunch(options);
  const record = plain ? newHostRecord() : undefined;
  const compile = () => compileLaunch(launchRequest(options, command, { host, record }));
  // The family's files are stamped before they are read, and again after (stamps.ts); the
  // family is found from the node's real path, so the stamps are taken there too.
  const stamped = plain ? stampedRead(familyFileCandidates(realPathOrText(resolve(redpath))), compile) : undefined;
  const compiled = stamped ? stamped.result : compile();
  for (const warning of launchWarnings(compiled)) warn(warning);
  if (record && stamped) writeFastPlan(compiled, record, stamped, { uid: processIds.uid(), gid: processIds.gid() });
  if (options.dump) process.stderr.write(`${dumpText(compiled).replace(/\n {2}/g, ' ')}\n`);
  return executeLaunch(compiled, { sysroot: options.root, onWarning: warn });
}

function realPathOrText(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // not there: the compilation reports it
  }
}
