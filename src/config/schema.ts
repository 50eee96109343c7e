/**
 * JSON Schemas of the node files, checked with ajv. Documents are validated after key names were
 * lower-cased and every scalar kept as its source text (YAML failsafe schema), so that `umask: 027`
 * stays `027` and enum values can be matched without regard to case as redpak does. Three custom
 * keywords carry redpak's scalar rules: `ciEnum` (case-insensitive enum), `intText`, `boolText`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ENVIRON_MODES, EXPORT_MODES, NODE_STATES, TRI_STATES } from './types.js';

type Schema = Record<string, unknown>;

const text: Schema = { type: 'string' };
const intText: Schema = { type: 'string', intText: true };
const boolText: Schema = { type: 'string', boolText: true };
const ciEnum = (values: readonly string[]): Schema => ({ type: 'string', ciEnum: values });
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

export const NODE_CONFIG_SCHEMA: Schema = object(
  {
    headers: object({ alias: text, name: text, info: text }, ['alias']),
    exports: list(object({ mode: ciEnum(EXPORT_MODES), mount: text, path: text, info: text, warn: text }, ['mode', 'mount'])),
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
    // Checked by validateSeccomp (src/wrap/seccomp.ts), which knows the syscall tables.
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

export function canonicalEnum(values: readonly string[], given: string): string | undefined {
  const lower = given.toLowerCase();
  return values.find((v) => v.toLowerCase() === lower);
}

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: true });
  ajv.addKeyword({
    keyword: 'ciEnum',
    type: 'string',
    schemaType: 'array',
    error: { message: (cxt) => `must be one of ${(cxt.schema as string[]).join(', ')}` },
    validate: (values: string[], data: string) => canonicalEnum(values, data) !== undefined,
  });
  ajv.addKeyword({
    keyword: 'intText',
    type: 'string',
    schemaType: 'boolean',
    error: { message: 'must be an integer' },
    validate: (_: boolean, data: string) => /^[-+]?[0-9]+$/.test(data.trim()),
  });
  ajv.addKeyword({
    keyword: 'boolText',
    type: 'string',
    schemaType: 'boolean',
    error: { message: 'must be a boolean (true/false, yes/no, on/off, enable/disable, 1/0)' },
    validate: (_: boolean, data: string) => data.trim().toLowerCase() in BOOLEAN_WORDS,
  });
  return ajv;
}

let compiled: { config: ValidateFunction; status: ValidateFunction } | undefined;

export function validators(): { config: ValidateFunction; status: ValidateFunction } {
  if (!compiled) {
    const ajv = makeAjv();
    compiled = { config: ajv.compile(NODE_CONFIG_SCHEMA), status: ajv.compile(NODE_STATUS_SCHEMA) };
  }
  return compiled;
}

export type SchemaError = ErrorObject;
