/** What `redwrap --dump`, `--dump-only` and `--dump-only --json` print of a compiled launch. */
import { originJson, type OriginJson } from '../merge/origin-json.js';
import { bwrapOptions } from './bwrap-options.js';
import { describeCgroupPlan } from './cgroups.js';
import type { CompiledLaunch } from './launch.js';
import type { PlanArg } from './plan.js';

/** A deferred argument (Execfd environment value), as shown without running it. */
export const showDeferred = (arg: PlanArg): string => (typeof arg === 'string' ? arg : `<output of: ${arg.execfd}>`);

/** The bwrap arguments as a dump shows them, seccomp fds included, without binary or command. */
export function dumpArgs(compiled: CompiledLaunch): string[] {
  const args = compiled.plan.args.map(showDeferred);
  for (const filter of compiled.seccomp) args.push('--add-seccomp-fd', String(filter.fd));
  return args;
}

/** The environment the program starts with, as far as it is known before the launch. */
export function dumpEnv(compiled: CompiledLaunch): Record<string, string> {
  const env: Record<string, string> = { ...compiled.baseEnv };
  for (const [option, name, value] of bwrapOptions(compiled.plan.args)) {
    if (option === '--setenv' && typeof name === 'string' && value !== undefined) env[name] = showDeferred(value);
    else if (option === '--unsetenv' && typeof name === 'string') delete env[name];
  }
  return env;
}

/** redpak's dump text: one line per option, its values on the same line. */
export function dumpText(compiled: CompiledLaunch, argv0 = 'redwrap'): string {
  const lines = [`DUMP: ${compiled.bwrap} (as ${argv0})`];
  for (const option of bwrapOptions(dumpArgs(compiled))) lines.push(`  ${option.join(' ')}`);
  if (compiled.command.length) lines.push(`  ${compiled.command.join(' ')}`);
  const { plan } = compiled;
  for (const dir of plan.mkdirs) lines.push(`# creates ${dir}`);
  for (const skip of plan.skipped) lines.push(`# skips ${skip.mount}: ${skip.reason}`);
  for (const filter of compiled.seccomp)
    lines.push(`# seccomp filter of ${filter.alias} (${filter.kind}) on fd ${filter.fd}`);
  if (compiled.cgroups?.unavailable)
    lines.push(`# cgroups cannot be applied on this host (${compiled.cgroups.unavailable}); as on cgroup v2:`);
  if (compiled.cgroups) for (const line of describeCgroupPlan(compiled.cgroups.plan)) lines.push(`# cgroup: ${line}`);
  return lines.join('\n');
}

/** `redwrap --dump-only --json`: documented in docs/json-output.md ("redwrap"). */
export interface LaunchDump {
  bwrap: string[];
  command: string[];
  env: Record<string, string>;
  cgroups: { node: string; alias: string; settings: Record<string, unknown>; from: OriginJson[] }[];
  cgroupSteps: string[];
  /** Why this host could not apply the cgroups (the steps are then those of cgroup v2). */
  cgroupsUnavailable?: string;
  seccomp: { node: string; alias: string; kind: string; fd: number; instructions: number }[];
  provenance: { arg: number; what: string; from: OriginJson }[];
  prepare: {
    mkdirs: string[];
    skipped: { mount: string; reason: string; from: OriginJson }[];
    execfd: { fd: number; mount: string; script: string }[];
    joins: { namespace: string; path: string }[];
    unshareTime: boolean;
    userNamespaceByLauncher: boolean;
    user?: { uid: number; gid: number };
    umask?: string;
    inheritEnv: boolean;
  };
}

export function dumpJson(compiled: CompiledLaunch): LaunchDump {
  const { plan, merged } = compiled;
  return {
    bwrap: dumpArgs(compiled),
    command: compiled.command,
    env: dumpEnv(compiled),
    cgroups: merged.cgroups.map((c) => ({
      node: c.node,
      alias: c.alias,
      settings: c.settings as Record<string, unknown>,
      from: c.origins.map(originJson),
    })),
    cgroupSteps: compiled.cgroups ? describeCgroupPlan(compiled.cgroups.plan) : [],
    ...(compiled.cgroups?.unavailable ? { cgroupsUnavailable: compiled.cgroups.unavailable } : {}),
    seccomp: compiled.seccomp.map((f) => ({
      node: f.node,
      alias: f.alias,
      kind: f.kind,
      fd: f.fd,
      instructions: f.filter.length / 8,
    })),
    provenance: plan.provenance.map((p) => ({ arg: p.arg, what: p.what, from: originJson(p.origin) })),
    prepare: {
      mkdirs: plan.mkdirs,
      skipped: plan.skipped.map((s) => ({ mount: s.mount, reason: s.reason, from: originJson(s.origin) })),
      execfd: plan.fds.map((f) => ({ fd: f.fd, mount: f.mount, script: f.script })),
      joins: plan.joins,
      unshareTime: plan.unshareTime,
      userNamespaceByLauncher: plan.userNamespaceByLauncher,
      ...(compiled.switchUser ? { user: { uid: compiled.uid, gid: compiled.gid } } : {}),
      ...(compiled.umask !== undefined ? { umask: compiled.umask.toString(8).padStart(3, '0') } : {}),
      inheritEnv: plan.inheritEnv,
    },
  };
}
