/**
 * The keys of a config's `config:` section, each with how the family merge combines it: the one
 * list the merge and the explanation derive theirs from (test/unit/config-keys.test.ts holds it
 * equal to the schema's). Listed in the order the merge takes them.
 */
export const CONFIG_KEY_MERGE = {
  // The first file that sets it wins (admin files first, leaf to root; then the normal ones).
  persistdir: 'first',
  rpmdir: 'first',
  cachedir: 'first',
  hostname: 'first',
  chdir: 'first',
  umask: 'first',
  'set-user': 'first',
  'set-group': 'first',
  smack: 'first',
  cgrouproot: 'first',
  // As 'first', "Unset" counting as not set.
  'die-with-parent': 'tri-state',
  'new-session': 'tri-state',
  // "First non-zero wins": once on anywhere, a descendant cannot turn it off.
  verbose: 'flag',
  gpgcheck: 'flag',
  unsafe: 'flag',
  'inherit-env': 'flag',
  'map-root-user': 'flag',
  // Cumulative, child components first.
  path: 'path-list',
  ldpath: 'path-list',
  share_all: 'share',
  share_user: 'share',
  share_cgroup: 'share',
  share_net: 'share',
  share_pid: 'share',
  share_ipc: 'share',
  share_time: 'share',
  cgroups: 'cgroups',
  capabilities: 'capabilities',
  // Accepted and ignored, as redpak does.
  maxage: 'ignored',
  inherit: 'ignored',
} as const;

type ConfigKey = keyof typeof CONFIG_KEY_MERGE;
export type ConfigKeyMerge = (typeof CONFIG_KEY_MERGE)[ConfigKey];
type KeysMerged<M extends ConfigKeyMerge> = {
  [K in ConfigKey]: (typeof CONFIG_KEY_MERGE)[K] extends M ? K : never;
}[ConfigKey];

/** The keys merged the given way, in the table's order. */
export function configKeysMerged<M extends ConfigKeyMerge>(merge: M): KeysMerged<M>[] {
  const keys = Object.keys(CONFIG_KEY_MERGE) as ConfigKey[];
  return keys.filter((key): key is KeysMerged<M> => CONFIG_KEY_MERGE[key] === merge);
}
