/**
 * The data model of one node's configuration files, as read from disk. Keys keep redpak's YAML
 * spelling (`die-with-parent`, `share_net`) so that the model, the schema and the canonical YAML
 * output are one table.
 */
import type { SourcePosition } from '../errors.js';
import type { SeccompConfig } from './seccomp.js';

export type ConfigKind = 'normal' | 'admin';

export const EXPORT_MODES = [
  'Private',
  'Restricted',
  'PrivateRestricted',
  'Public',
  'PrivateFile',
  'RestrictedFile',
  'PublicFile',
  'Anonymous',
  'Symlink',
  'Execfd',
  'Internal',
  'Devfs',
  'Tmpfs',
  'Mqueue',
  'Procfs',
  'Lock',
] as const;
export type ExportMode = (typeof EXPORT_MODES)[number];

/**
 * Exports an ancestor keeps to itself. redpak forgets PrivateRestricted here (docs/compatibility.md); its
 * documented intent is that it is private, which is what we do.
 */
export const PRIVATE_EXPORT_MODES: ReadonlySet<ExportMode> = new Set(['Private', 'PrivateFile', 'PrivateRestricted']);
export const DIR_EXPORT_MODES: ReadonlySet<ExportMode> = new Set([
  'Private',
  'Restricted',
  'Public',
  'PrivateRestricted',
]);
export const FILE_EXPORT_MODES: ReadonlySet<ExportMode> = new Set(['PrivateFile', 'RestrictedFile', 'PublicFile']);

export const ENVIRON_MODES = ['Default', 'Static', 'Execfd', 'Remove', 'Inherit'] as const;
export type EnvironMode = (typeof ENVIRON_MODES)[number];

export const TRI_STATES = ['Unset', 'Disabled', 'Enabled'] as const;
export type TriState = (typeof TRI_STATES)[number];

export const NODE_STATES = ['Disable', 'Enable', 'Unknown', 'Error'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export const SHARE_KEYS = ['all', 'user', 'cgroup', 'net', 'pid', 'ipc', 'time'] as const;
export type ShareKey = (typeof SHARE_KEYS)[number];

export interface Headers {
  alias: string;
  name?: string;
  info?: string;
}

export interface ExportEntry {
  mode: ExportMode;
  mount: string;
  path?: string;
  info?: string;
  warn?: string;
  at: SourcePosition;
}

export interface EnvironEntry {
  mode: EnvironMode;
  key: string;
  value?: string;
  info?: string;
  warn?: string;
  at: SourcePosition;
}

export interface CapabilityEntry {
  cap: string;
  /** redpak's `add` integer: 0 drops, anything else adds. */
  add: number;
  info?: string;
  warn?: string;
  at: SourcePosition;
}

export interface CgroupsConfig {
  cpuset?: { cpus?: string; mems?: string; cpus_partition?: string };
  mem?: {
    max?: string;
    high?: string;
    min?: string;
    low?: string;
    oom_group?: string;
    swap_high?: string;
    swap_max?: string;
  };
  cpu?: { weight?: string; weight_nice?: string; max?: string };
  io?: { cost_qos?: string; cost_model?: string; weight?: string; max?: string };
  pids?: { max?: string };
}
export type CgroupController = keyof CgroupsConfig;

export interface ConfigTags {
  persistdir?: string;
  rpmdir?: string;
  cachedir?: string;
  path?: string;
  ldpath?: string;
  umask?: string;
  'set-user'?: string;
  'set-group'?: string;
  smack?: string;
  verbose: number;
  'map-root-user': number;
  gpgcheck: boolean;
  unsafe: boolean;
  'inherit-env': boolean;
  'die-with-parent': TriState;
  'new-session': TriState;
  share_all?: string;
  share_user?: string;
  share_cgroup?: string;
  share_net?: string;
  share_pid?: string;
  share_ipc?: string;
  share_time?: string;
  cgroups?: CgroupsConfig;
  hostname?: string;
  chdir?: string;
  cgrouproot?: string;
  capabilities: CapabilityEntry[];
}

/** One parsed `etc/redpak.yaml` or `etc/redpak-admin.yaml`. */
export interface NodeConfig {
  file: string;
  kind: ConfigKind;
  headers: Headers;
  exports: ExportEntry[];
  environ: EnvironEntry[];
  config: ConfigTags;
  /** The node's own syscall filter; every ancestor's filter applies as well. */
  seccomp?: SeccompConfig;
  /** Where each present key was written: `headers.alias`, `config.hostname`, `config.cgroups.mem.max`, … */
  positions: Record<string, SourcePosition>;
}

/** `.rednode.yaml`. */
export interface NodeStatus {
  realpath: string;
  info?: string;
  timestamp: number;
  state: NodeState;
}
