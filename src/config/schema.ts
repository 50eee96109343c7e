/**
 * JSON Schemas of the node files, checked with ajv. Documents are validated after key names were
 * lower-cased and every scalar kept as its source text (YAML failsafe schema), so that `umask: 027`
 * stays `027` and enum values can be matched without regard to case as redpak does: enums,
 * integers and booleans are patterns, whose `description` says in words what they accept.
 *
 * The validators are compiled once, at build time, into plain code (see validators.ts).
 */
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { ENVIRON_MODES, EXPORT_MODES, NODE_STATES, TRI_STATES } from './types.js';

type Schema = Record<string, unknown>;

/** A regular expression matching any of `words`, ignoring case (JSON Schema patterns have no flags). */
function anyCase(words: readonly string[]): string {
  const word = (w: string) =>
    [...w]
      .map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c.replace(/[^\w]/g, '\\$&')))
      .join('');
  return `^(?:${words.map(word).join('|')})$`;
}

const text: Schema = { type: 'string' };
const intText: Schema = { type: 'string', pattern: '^\\s*[-+]?[0-9]+\\s*$', description: 'an integer' };
const ciEnum = (values: readonly string[]): Schema => ({
  type: 'string',
  pattern: anyCase(values),
  description: `one of ${values.join(', ')}`,
});
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const list = (items: Schema): Schema => ({ type: 'array', items });

const cgroups = object({
  cpuset: object({ cpus: text, mems: text, cpus_partition: text }),
  mem: object({ max: text, high: text, min: text, low: text, oom_group: text, swap_high: text, swap_max: text }),
  cpu: object({ weight: text, weight_nice: text, max: text }),
  io: object({ cost_qos: text, cost_model: text, weight: text, max: text }),
  pids: object({ max: text }),
});

export const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  enable: true,
  '1': true,
  false: false,
  no: false,
  off: false,
  disable: false,
  '0': false,
};
const boolText: Schema = {
  type: 'string',
  pattern: anyCase(Object.keys(BOOLEAN_WORDS)),
  description: 'a boolean (true/false, yes/no, on/off, enable/disable, 1/0)',
};

export const NODE_CONFIG_SCHEMA: Schema = object(
  {
    headers: object({ alias: text, name: text, info: text }, ['alias']),
    exports: list(
      object({ mode: ciEnum(EXPORT_MODES), mount: text, path: text, info: text, warn: text }, ['mode', 'mount']),
    ),
    environ: list(object({ mode: ciEnum(ENVIRON_MODES), key: text, value: text, info: text, warn: text }, ['key'])),
    config: object({
      persistdir: text,
      rpmdir: text,
      cachedir: text,
      path: text,
      ldpath: text,
      umask: text,
      'set-user': text,
      'set-group': text,
      smack: text,
      verbose: intText,
      'map-root-user': intText,
      gpgcheck: boolText,
      unsafe: boolText,
      'inherit-env': boolText,
      'die-with-parent': ciEnum(TRI_STATES),
      'new-session': ciEnum(TRI_STATES),
      share_all: text,
      share_user: text,
      share_cgroup: text,
      share_net: text,
      share_pid: text,
      share_ipc: text,
      share_time: text,
      cgroups,
      hostname: text,
      chdir: text,
      cgrouproot: text,
      capabilities: list(object({ cap: text, add: intText, info: text, warn: text }, ['cap', 'add'])),
      // Accepted and ignored, as redpak does.
      maxage: {},
      inherit: {},
    }),
    // Checked by validateSeccomp (src/config/seccomp.ts), which knows the syscall tables.
    seccomp: { type: 'object' },
  },
  ['headers'],
);

export const NODE_STATUS_SCHEMA: Schema = object(
  {
    realpath: text,
    info: text,
    timestamp: intText,
    // The one enum redpak matches with case.
    state: { type: 'string', enum: [...NODE_STATES] },
  },
  ['realpath', 'timestamp', 'state'],
);

export function canonicalEnum(values: readonly string[], given: string): string | undefined {
  const lower = given.toLowerCase();
  return values.find((v) => v.toLowerCase() === lower);
}

/** ajv's options for the build-time compilation. */
export const AJV_OPTIONS: Options = { allErrors: false, strict: true, verbose: true };

export interface Validators {
  config: ValidateFunction;
  status: ValidateFunction;
}

export type SchemaError = ErrorObject;
