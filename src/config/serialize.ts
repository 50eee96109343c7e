/**
 * Canonical YAML of the node files, in redpak's key order (docs/configuration.md, "Canonical form"): headers,
 * exports, environ, config; always-present scalars written even for a headers-only file.
 */
import type { CgroupsConfig, NodeConfig, NodeStatus } from './types.js';
import { yamlLibrary } from './yaml-library.js';

type Ordered = Record<string, unknown>;

const defined = (o: Ordered): Ordered => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** redpak's order of the cgroups sub-maps and of their keys (docs/configuration.md, "Canonical form"). */
const CGROUPS_ORDER: Array<[keyof CgroupsConfig, string[]]> = [
  ['cpuset', ['cpus', 'mems', 'cpus_partition']],
  ['mem', ['max', 'high', 'min', 'low', 'oom_group', 'swap_high', 'swap_max']],
  ['cpu', ['weight', 'weight_nice', 'max']],
  ['io', ['cost_qos', 'cost_model', 'weight', 'max']],
  ['pids', ['max']],
];

function canonicalCgroups(cgroups: CgroupsConfig | undefined): Ordered | undefined {
  if (!cgroups) return undefined;
  return defined(
    Object.fromEntries(
      CGROUPS_ORDER.map(([controller, keys]) => {
        const settings = cgroups[controller] as Record<string, string | undefined> | undefined;
        return [controller, settings ? defined(Object.fromEntries(keys.map((k) => [k, settings[k]]))) : undefined];
      }),
    ),
  );
}

export function canonicalConfigObject(config: NodeConfig): Ordered {
  const c = config.config;
  return defined({
    headers: defined({ alias: config.headers.alias, name: config.headers.name, info: config.headers.info }),
    exports: config.exports.length
      ? config.exports.map((e) => defined({ mode: e.mode, mount: e.mount, path: e.path, info: e.info, warn: e.warn }))
      : undefined,
    environ: config.environ.length
      ? config.environ.map((e) => defined({ mode: e.mode, key: e.key, value: e.value, info: e.info, warn: e.warn }))
      : undefined,
    config: defined({
      persistdir: c.persistdir,
      rpmdir: c.rpmdir,
      cachedir: c.cachedir,
      path: c.path,
      ldpath: c.ldpath,
      umask: c.umask,
      'set-user': c['set-user'],
      'set-group': c['set-group'],
      smack: c.smack,
      verbose: c.verbose,
      'map-root-user': c['map-root-user'],
      gpgcheck: c.gpgcheck,
      unsafe: c.unsafe,
      'inherit-env': c['inherit-env'],
      'die-with-parent': c['die-with-parent'],
      'new-session': c['new-session'],
      share_all: c.share_all,
      share_user: c.share_user,
      share_cgroup: c.share_cgroup,
      share_net: c.share_net,
      share_pid: c.share_pid,
      share_ipc: c.share_ipc,
      share_time: c.share_time,
      cgroups: canonicalCgroups(c.cgroups),
      hostname: c.hostname,
      chdir: c.chdir,
      cgrouproot: c.cgrouproot,
      capabilities: c.capabilities.length
        ? c.capabilities.map((e) => defined({ cap: e.cap, add: e.add, info: e.info, warn: e.warn }))
        : undefined,
    }),
    seccomp: config.seccomp,
  });
}

export function statusObject(status: NodeStatus): Ordered {
  return defined({ realpath: status.realpath, info: status.info, timestamp: status.timestamp, state: status.state });
}

export function toYaml(value: unknown): string {
  return yamlLibrary().stringify(value, { indent: 2, indentSeq: false, lineWidth: 0 });
}

export function serializeConfig(config: NodeConfig): string {
  return toYaml(canonicalConfigObject(config));
}

export function serializeStatus(status: NodeStatus): string {
  return toYaml(statusObject(status));
}
