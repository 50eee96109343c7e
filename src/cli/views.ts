/**
 * The work of the commands that only read and show: `redmanager tree`, `redmanager mergeconfig`
 * and `redwrap --dump-only`. Their oclif commands and the quick start (cli/quick.ts) both run
 * these, so both give the same text, warnings, result and errors.
 */
import { mergedConfigJson, mergedConfigYaml } from '../inspect/mergeconfig.js';
import { readTree, renderTree } from '../inspect/tree.js';
import { mergeFamily } from '../merge/merge.js';
import { Sysroot } from '../node/layout.js';
import { assertEnabled, loadFamily, type TreeNode } from '../node/load.js';
import { callersNodeReadCache } from '../node/node-cache.js';
import { usableCallerCacheDir } from '../system/caller-cache.js';
import { inspectionHostFacts } from '../system/host-facts.js';
import { dumpJson, dumpText, type LaunchDump } from '../wrap/dump.js';
import { uncacheableReason } from '../wrap/fast-plan.js';
import { recordingHost } from '../wrap/host-record.js';
import { compileLaunch, type CompiledLaunch, DEFAULT_BWRAP, type LaunchRequest } from '../wrap/launch.js';
import { present } from '../present.js';
import type { RedwrapOptions } from './redwrap-argv.js';
import { FamilyWatch, type ViewReads } from './view-cache.js';

/**
 * What a command shows: its text (none under --json), its warnings, and its --json result; and,
 * for a view asked to watch its reads, what it read when the view cache may keep it (cli/view-cache.ts).
 */
export interface View<Result> {
  text?: string;
  warnings: string[];
  result: Result;
  reads?: ViewReads;
}

export function treeView(flags: { redroot: string; root?: string }): View<TreeNode> {
  const sysroot = Sysroot.open(flags.root);
  const tree = readTree(flags.redroot, { sysroot, cacheDir: usableCallerCacheDir() });
  return { text: renderTree(tree), warnings: [], result: tree };
}

export function mergeConfigView(
  // `expand` as oclif types it; unset, it is undefined, and the result then has no `expanded`.
  flags: { redpath: string; admin?: boolean; expand: boolean; root?: string },
  json: boolean,
  watched = false,
): View<ReturnType<typeof mergedConfigJson>> {
  const watch =
    watched && flags.root === undefined ? FamilyWatch.start(flags.redpath, flags.admin ?? false) : undefined;
  const family = loadFamily(flags.redpath, {
    sysroot: Sysroot.open(flags.root),
    admin: flags.admin,
    cache: callersNodeReadCache(),
  });
  assertEnabled(family);
  const inspection = inspectionHostFacts(); // a config's $(...) is shown, never run
  const host = watch ? recordingHost(inspection, watch.record) : inspection;
  const merged = mergeFamily(family, { host });
  const options = { expand: flags.expand, host };
  const view = {
    ...(json ? {} : { text: mergedConfigYaml(family, merged, options) }),
    warnings: [],
    result: mergedConfigJson(family, merged, options),
  };
  const reads = watch?.reads(family);
  return reads ? { ...view, reads } : view;
}

/** The warnings a launch prints before it runs (or before its plan is shown). */
export function launchWarnings(compiled: CompiledLaunch): string[] {
  const warnings = compiled.merged.warnings.filter((w) => w.redpak).map((w) => w.message);
  const ignored = compiled.cgroups?.plan.warnings ?? [];
  if (ignored.length)
    warnings.push(
      `cgroups: not applied, as redpak ignores them too: ${ignored.map((w) => `${w.alias} ${w.key}`).join(', ')}`,
    );
  return warnings;
}

/** The launch redwrap's options and command ask for, with what the caller adds (host facts, …). */
export function launchRequest(
  options: RedwrapOptions,
  command: string[],
  rest: Pick<LaunchRequest, 'host'> & Partial<LaunchRequest>,
): LaunchRequest {
  return {
    redpath: present(options.redpath, '--redpath (the argument grammar requires it)'),
    sysroot: options.root,
    admin: options.admin,
    strict: options.strict,
    user: options.user,
    group: options.group,
    command,
    bwrap: options.bwrap ?? DEFAULT_BWRAP,
    readCache: callersNodeReadCache(),
    ...rest,
  };
}

/**
 * Whether a launch line is plain: only the node path and `--admin` (what the fast launcher serves,
 * docs/launch-cache.md), and the bwrap fixed at build. Only a plain launch's plan is worth keeping:
 * for the fast launcher (cli/launch-command.ts), or as a view (dumpOnlyView).
 */
export function isPlainLaunch(options: RedwrapOptions): boolean {
  return (
    !options.dump &&
    !options.strict &&
    !options.user &&
    !options.group &&
    !options.root &&
    (options.bwrap ?? DEFAULT_BWRAP) === DEFAULT_BWRAP
  );
}

/**
 * `redwrap --dump-only`: the launch plan, nothing run (a config's $(...) is shown, never run).
 * Watched, only a plan the fast launcher could serve is kept, whose inputs are those checked there
 * (docs/launch-cache.md), and not one that shows the caller's whole environment (inherit-env).
 */
export function dumpOnlyView(options: RedwrapOptions, command: string[], watched = false): View<LaunchDump> {
  const watch =
    watched && isPlainLaunch(options) && options.redpath
      ? FamilyWatch.start(options.redpath, options.admin)
      : undefined;
  const compiled = compileLaunch(
    launchRequest(options, command, { host: inspectionHostFacts(), planOnly: true, record: watch?.record }),
  );
  const view = {
    ...(options.json ? {} : { text: dumpText(compiled) }),
    warnings: launchWarnings(compiled),
    result: dumpJson(compiled),
  };
  const keep = watch && !uncacheableReason(compiled, watch.record) && !compiled.plan.inheritEnv;
  const reads = keep ? watch.reads(compiled.family) : undefined;
  return reads ? { ...view, reads } : view;
}
