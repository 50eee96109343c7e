import type { SourcePosition } from '../errors.js';
import type { SeccompConfig } from '../config/seccomp.js';
import type {
  CapabilityEntry,
  CgroupsConfig,
  ConfigKind,
  EnvironEntry,
  ExportEntry,
  Headers,
  NodeState,
  ShareKey,
  TriState,
} from '../config/types.js';

/** Which node, which of its two files, and where in it a merged value was written. */
export interface Origin {
  node: string;
  alias: string;
  kind: ConfigKind;
  /** 0 for the leaf, 1 for its parent, … */
  depth: number;
  at: SourcePosition;
}

/** A definition that lost to the one kept, and why. */
export interface Override {
  origin: Origin;
  /** The losing definition, as written. */
  value: unknown;
  /** `shadowed`: a node closer to the leaf (or the admin file) defined it first; `replaced`: an ancestor's admin file took it over. */
  reason: 'shadowed' | 'replaced' | 'duplicate';
}

export interface Merged<T> {
  value: T;
  origin: Origin;
  overrides: Override[];
}

export interface MergedScalars {
  persistdir?: Merged<string>;
  rpmdir?: Merged<string>;
  cachedir?: Merged<string>;
  hostname?: Merged<string>;
  chdir?: Merged<string>;
  umask?: Merged<string>;
  'set-user'?: Merged<string>;
  'set-group'?: Merged<string>;
  smack?: Merged<string>;
  cgrouproot?: Merged<string>;
  'die-with-parent'?: Merged<TriState>;
  'new-session'?: Merged<TriState>;
  verbose?: Merged<number>;
  gpgcheck?: Merged<boolean>;
  unsafe?: Merged<boolean>;
  'inherit-env'?: Merged<boolean>;
  'map-root-user'?: Merged<number>;
}

/** A cumulative `:` list (`path`, `ldpath`) and every definition that contributed to it. */
export interface MergedPathList {
  value: string;
  contributions: { origin: Origin; written: string; expanded: string }[];
}

export type ShareType = 'unset' | 'disabled' | 'enabled' | 'join';

export interface ShareValue {
  type: ShareType;
  /** Namespace file to join, for `join`. */
  path?: string;
}

export interface MergedShare extends ShareValue {
  /** Where the value came from; absent when nothing in the family set it. */
  origin?: Origin;
  /** Set when the value is `share_all`'s, taken because the key itself was unset. */
  fromShareAll?: boolean;
  overrides: Override[];
}

export interface MergedExport extends Merged<ExportEntry> {
  /** The mount expanded in the defining node's context: the merge key and the sort key. */
  mount: string;
}

export type MergedEnviron = Merged<EnvironEntry>;
export type MergedCapability = Merged<CapabilityEntry>;

export interface NodeCgroups {
  node: string;
  alias: string;
  depth: number;
  /** Normal settings overridden key by key by the admin file's, as redpak applies them. */
  settings: CgroupsConfig;
  origins: Origin[];
}

/** A node file's seccomp filter: not merged, every one applies (a child can only narrow). */
export interface NodeSeccomp {
  node: string;
  alias: string;
  kind: ConfigKind;
  filter: SeccompConfig;
  origin: Origin;
}

export interface MergeWarning {
  message: string;
  origin: Origin;
  /** The definition the warning is about, when it overrides one. */
  overrides?: Origin;
  /** Whether redpak itself would print it (a `warn:` text, or a definition repeated in one file). */
  redpak: boolean;
}

export interface MergedConfig {
  leaf: { path: string; alias: string; name?: string; info?: string };
  admin: boolean;
  family: { path: string; alias: string; state: NodeState; files: string[] }[];
  headers: Headers;
  scalars: MergedScalars;
  path?: MergedPathList;
  ldpath?: MergedPathList;
  shares: Record<ShareKey, MergedShare>;
  capabilities: MergedCapability[];
  exports: MergedExport[];
  environ: MergedEnviron[];
  cgroups: NodeCgroups[];
  /** Root-most first. */
  seccomp: NodeSeccomp[];
  warnings: MergeWarning[];
}
