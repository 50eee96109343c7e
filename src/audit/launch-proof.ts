/**
 * What bwrap or this host would refuse in a node's compiled launch plan, found without running
 * anything (`redmanager check`, class `config`, docs/audit.md "Launch proof"): export sources that
 * cannot be created, namespaces to join that do not exist or kinds the kernel lacks, capabilities
 * outside the bounding set, users and groups that do not exist, cgroup controllers the host does
 * not offer and cpusets outside its CPUs.
 *
 * Reads only the host's /proc and /sys (trusted) and the node tree's directories (untrusted, but
 * only their existence and type matter). With a sysroot, the host is the build machine, not the
 * target: only the export sources (inside the sysroot) are checked.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RedpakError, type SourcePosition } from '../errors.js';
import type { MergedConfig } from '../merge/types.js';
import type { Sysroot } from '../node/layout.js';
import type { Family } from '../node/types.js';
import { groupId, userId } from '../system/accounts.js';
import { CAPABILITY_NAMES } from '../wrap/capabilities.js';
import { hostCgroupPlan } from '../wrap/cgroups-apply.js';
import { requestedControllers, type CgroupNode, type CgroupPlan } from '../wrap/cgroups.js';
import { hasBwrapOption } from '../wrap/bwrap-options.js';
import { cgroupChain } from '../wrap/launch.js';
import type { LaunchPlan } from '../wrap/plan.js';

/** The host facts the proof depends on; tests give their own. */
export interface HostView {
  /** CapBnd of this process, undefined when unknown. */
  capBounding?: bigint;
  /** Namespace kinds this kernel has (/proc/self/ns). */
  namespaces: Set<string>;
  /** Whether user namespaces can be created (/proc/sys/user/max_user_namespaces > 0). */
  userNamespaces: boolean;
  /** CPUs online (/sys/devices/system/cpu/online), undefined when unknown. */
  cpus?: Set<number>;
  /** The cgroup plan of a launch on this host (wrap/cgroups-apply.ts hostCgroupPlan); throws what the launch would. */
  cgroupPlan: (nodes: CgroupNode[], cgrouproot?: string) => CgroupPlan;
  lookupUser: (name: string) => void;
  lookupGroup: (name: string) => void;
}

const readOr = (file: string, fallback = ''): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
};

/** `0-3,6` → {0,1,2,3,6}; undefined when the text is not a CPU list. */
export function parseCpuList(text: string): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of text.trim().split(',').filter(Boolean)) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return undefined;
    const [from, to] = [Number(match[1]), Number(match[2] ?? match[1])];
    if (to - from > 4096) return undefined;
    for (let cpu = from; cpu <= to; cpu += 1) out.add(cpu);
  }
  return out;
}

export function liveHostView(): HostView {
  const capLine = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readOr('/proc/self/status'));
  let namespaces = new Set<string>();
  try {
    namespaces = new Set(readdirSync('/proc/self/ns'));
  } catch {
    // no /proc: every kind counts as missing
  }
  return {
    ...(capLine ? { capBounding: BigInt(`0x${capLine[1]}`) } : {}),
    namespaces,
    userNamespaces: Number(readOr('/proc/sys/user/max_user_namespaces', '1').trim()) > 0,
    ...(() => {
      const online = readOr('/sys/devices/system/cpu/online').trim();
      const cpus = online ? parseCpuList(online) : undefined;
      return cpus?.size ? { cpus } : {};
    })(),
    cgroupPlan: (nodes, cgrouproot) => hostCgroupPlan(nodes, { cgrouproot }),
    lookupUser: (name) => void userId(name),
    lookupGroup: (name) => void groupId(name),
  };
}

/** A refusal: a RedpakError of code `launch` with the rule of the finding it becomes. */
export interface LaunchRefusal {
  rule: 'export-source' | 'namespace' | 'capability' | 'user' | 'cgroups-host';
  error: RedpakError;
}

const refusal = (
  rule: LaunchRefusal['rule'],
  message: string,
  at: SourcePosition | undefined,
  hint?: string,
): LaunchRefusal => ({
  rule,
  error: new RedpakError('launch', message, { ...(at ? { at } : {}), ...(hint ? { hint } : {}) }),
});

/** Everything bwrap or the host would refuse in this compiled launch (empty: it would start). */
export function launchRefusals(
  family: Family,
  merged: MergedConfig,
  plan: LaunchPlan,
  sysroot: Sysroot,
  view: HostView,
): LaunchRefusal[] {
  const out: LaunchRefusal[] = [];
  const originOfSource = (source: string) => plan.provenance.find((p) => plan.args[p.arg + 1] === source)?.origin;

  // A missing export source is created at launch: the closest existing parent must be a directory.
  for (const dir of plan.mkdirs) {
    let parent = dirname(dir);
    while (parent !== '/' && !existsOnHost(sysroot, parent)) parent = dirname(parent);
    const stats = lstatOrUndefined(sysroot.toHost(parent));
    if (stats && !stats.isDirectory()) {
      const origin = originOfSource(dir);
      out.push(
        refusal(
          'export-source',
          `export source ${dir}${origin ? ` of ${origin.alias}` : ''} cannot be created: ${parent} is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
          origin?.at,
          'point the export at a directory that exists or can be created',
        ),
      );
    }
  }
  if (!sysroot.isHost) return out;

  for (const join of plan.joins) {
    if (!existsSync(join.path)) {
      out.push(
        refusal(
          'namespace',
          `share_${join.namespace}: namespace ${join.path} does not exist`,
          merged.shares[join.namespace]?.origin?.at,
          'the process owning it must be running when the node is launched',
        ),
      );
    }
  }
  const kinds: [string, boolean][] = [
    ['user', hasBwrapOption(plan.args, '--unshare-user') || plan.userNamespaceByLauncher],
    ['cgroup', hasBwrapOption(plan.args, '--unshare-cgroup')],
    ['time', plan.unshareTime],
  ];
  for (const [kind, wanted] of kinds) {
    const missing = kind === 'user' ? !view.userNamespaces || !view.namespaces.has('user') : !view.namespaces.has(kind);
    if (wanted && missing) {
      out.push(
        refusal(
          'namespace',
          `share_${kind} disabled: this host cannot create ${kind} namespaces`,
          merged.shares[kind as keyof MergedConfig['shares']]?.origin?.at,
          kind === 'user'
            ? 'user namespaces are off (sysctl user.max_user_namespaces)'
            : `the kernel has no ${kind} namespaces`,
        ),
      );
    }
  }

  if (view.capBounding !== undefined) {
    for (const { value, origin } of merged.capabilities) {
      if (!value.add) continue;
      const name = value.cap.toLowerCase().replace(/^(?!cap_)/, 'cap_');
      const index = (CAPABILITY_NAMES as readonly string[]).indexOf(name);
      if (index >= 0 && (view.capBounding & (1n << BigInt(index))) === 0n) {
        out.push(
          refusal(
            'capability',
            `capability ${value.cap} of ${origin.alias} is not in this host's bounding set: bwrap cannot add it`,
            origin.at,
          ),
        );
      }
    }
  }

  for (const [key, lookup] of [
    ['set-user', view.lookupUser],
    ['set-group', view.lookupGroup],
  ] as const) {
    const scalar = merged.scalars[key];
    if (!scalar) continue;
    try {
      lookup(scalar.value);
    } catch (error) {
      if (!(error instanceof RedpakError)) throw error;
      out.push(
        refusal('user', `${key} "${scalar.value}" of ${scalar.origin.alias}: ${error.message}`, scalar.origin.at),
      );
    }
  }

  if (merged.cgroups.length) {
    const nodes = cgroupChain(family, merged);
    const lastAt = merged.cgroups[0]?.origins[merged.cgroups[0].origins.length - 1]?.at;
    if (requestedControllers(nodes).length) {
      try {
        view.cgroupPlan(nodes, merged.scalars.cgrouproot?.value);
      } catch (error) {
        if (!(error instanceof RedpakError)) throw error;
        out.push(
          refusal(
            'cgroups-host',
            `cgroups of ${family.nodes[0].path}: ${error.message}`,
            error.at ?? lastAt,
            error.hint,
          ),
        );
      }
    }
    const onlineCpus = view.cpus;
    if (onlineCpus) {
      for (const c of merged.cgroups) {
        const cpus = c.settings.cpuset?.cpus;
        if (cpus === undefined) continue;
        const asked = parseCpuList(cpus);
        const absent = asked ? [...asked].filter((cpu) => !onlineCpus.has(cpu)) : [];
        if (absent.length) {
          out.push(
            refusal(
              'cgroups-host',
              `cpuset.cpus "${cpus}" of ${c.alias} names CPUs this host does not have (${absent.join(', ')}): the kernel refuses it`,
              c.origins[c.origins.length - 1]?.at,
            ),
          );
        }
      }
    }
  }
  return out;
}

function existsOnHost(sysroot: Sysroot, target: string): boolean {
  return lstatOrUndefined(sysroot.toHost(target)) !== undefined;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
