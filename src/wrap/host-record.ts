/**
 * What a launch compilation reads from the running system, noted as it is read: the environment
 * variables, the facts that change at every launch, and the export sources probed. The launch
 * plan cache (wrap/fast-plan.ts) and the view cache (cli/view-cache.ts) record them, so that
 * they can be checked again before what was computed from them is used.
 */
import type { HostFacts } from '../config/expand.js';
import type { Probe } from './plan.js';

/** What a compilation read from the running system. */
export interface HostRecord {
  /** Environment variables read, with their raw value (undefined: unset). */
  env: Map<string, string | undefined>;
  /** Facts that change at every launch (pid, clock, UUID, `$(...)`), by name. */
  dynamic: Set<string>;
  /** Export sources probed, and what they were. */
  probes: Map<string, 'dir' | 'file' | 'missing'>;
}

export function newHostRecord(): HostRecord {
  return { env: new Map(), dynamic: new Set(), probes: new Map() };
}

/** Host facts that note in `record` everything read through them. */
export function recordingHost(host: HostFacts, record: HostRecord, rawEnv: NodeJS.ProcessEnv = process.env): HostFacts {
  const dynamic = <T>(name: string, value: T): T => {
    record.dynamic.add(name);
    return value;
  };
  const env = new Proxy(host.env, {
    get(target, name) {
      const value = target[name as string];
      if (typeof name !== 'string') return value;
      record.env.set(name, rawEnv[name]);
      // USER, LOGNAME and HOSTNAME are filled in from the system when unset (system/host-facts.ts):
      // the recorded "unset" could not tell a later hostname from this one.
      return rawEnv[name] === undefined && value !== undefined
        ? dynamic(`${name} (not in the environment)`, value)
        : value;
    },
  });
  return {
    env,
    uid: host.uid,
    gid: host.gid,
    get pid() {
      return dynamic('PID', host.pid);
    },
    get now() {
      return dynamic('TODAY', host.now);
    },
    runCommand: (script) => dynamic('$(...)', host.runCommand(script)),
    uuid: () => dynamic('UUID', host.uuid()),
    cgroupMountPoint: () => dynamic('CGROUPS_MOUNT_POINT', host.cgroupMountPoint()),
  };
}

export function recordingProbe(probe: Probe, record: HostRecord): Probe {
  return (path) => {
    const kind = probe(path);
    record.probes.set(path, kind);
    return kind;
  };
}
