/**
 * Text of `etc/redpak*.yaml` and `.rednode.yaml` → typed, validated model, with the file, line and
 * column of every value kept for errors and provenance. Pure (no file access).
 */
import type { Document, Node as YamlNode } from 'yaml';
import { RedpakError, type SourcePosition } from '../errors.js';
import { assertConfigSize, type ConfigLimits, DEFAULT_CONFIG_LIMITS } from './limits.js';
import { BOOLEAN_WORDS, canonicalEnum, type SchemaError } from './schema.js';
import { validators } from './validators.js';
import { yamlLibrary } from './yaml-library.js';
import { type Located, type Plain, scanLocated } from './yaml-scan.js';
import { SeccompValueError, validateSeccomp } from './seccomp.js';
import {
  ENVIRON_MODES,
  EXPORT_MODES,
  TRI_STATES,
  type CapabilityEntry,
  type CgroupsConfig,
  type ConfigKind,
  type ConfigTags,
  type EnvironEntry,
  type EnvironMode,
  type ExportEntry,
  type ExportMode,
  type NodeConfig,
  type NodeState,
  type NodeStatus,
  type TriState,
} from './types.js';

export type { Located, Plain } from './yaml-scan.js';

const ALIAS_PATTERN = /^[A-Za-z0-9+\-_@:]+$/;

export function isValidAlias(alias: string): boolean {
  return ALIAS_PATTERN.test(alias);
}

/**
 * Parses YAML keeping every scalar as its source text and lower-casing mapping keys. Refuses what
 * no node file needs and a hostile one uses: more than `limits` allow (size, aliases, depth), and
 * NUL characters (they would cut a path or an argument short further down). The plain block YAML
 * node files are written in is read by config/yaml-scan.ts (a tenth of the time); anything else,
 * and every error, by the YAML library.
 */
export function parseLocated(
  text: string,
  file: string,
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
  options: { positions?: boolean } = {},
): Located {
  assertConfigSize(Buffer.byteLength(text), file, limits);
  return (
    scanLocated(text, file, limits.maxDepth, options.positions ?? true) ?? parseLocatedWithYaml(text, file, limits)
  );
}

/** parseLocated by the YAML library alone (the size already checked). */
export function parseLocatedWithYaml(
  text: string,
  file: string,
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
): Located {
  const { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } = yamlLibrary();
  const lines = new LineCounter();
  const doc: Document = parseDocument(text, {
    lineCounter: lines,
    schema: 'failsafe',
    uniqueKeys: true,
    prettyErrors: false,
  });
  const at = (offset: number | undefined): SourcePosition => {
    if (offset === undefined) return { file, line: 0, col: 0 };
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new RedpakError('yaml-syntax', `invalid YAML: ${first.message.split('\n')[0]}`, { at: at(first.pos[0]) });
  }
  const valueAt = new Map<string, SourcePosition>();
  const keyAt = new Map<string, SourcePosition>();

  let aliases = 0;
  const walk = (node: unknown, path: string, depth = 0): Plain | undefined => {
    if (isAlias(node)) {
      aliases += 1;
      if (aliases > limits.maxAliases) {
        throw new RedpakError(
          'yaml-syntax',
          `more than ${limits.maxAliases} alias references (*${node.source}): refused, as an alias bomb`,
          {
            at: at(node.range?.[0]),
            hint: 'write the values out instead of repeating aliases',
          },
        );
      }
      return walk(node.resolve(doc), path, depth);
    }
    if (node === null || node === undefined) return undefined;
    const yamlNode = node as YamlNode;
    if (depth > limits.maxDepth) {
      throw new RedpakError('yaml-syntax', `${describePath(path)} is nested more than ${limits.maxDepth} levels deep`, {
        at: at(yamlNode.range?.[0]),
      });
    }
    valueAt.set(path, at(yamlNode.range?.[0]));
    if (isMap(node)) {
      const out: { [key: string]: Plain } = {};
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyText = isScalar(keyNode) ? String(keyNode.value) : undefined;
        if (keyText === undefined)
          throw new RedpakError('schema', 'mapping keys must be plain words', { at: at(keyNode?.range?.[0]) });
        if (keyText.includes('\0'))
          throw new RedpakError('schema', 'a key holds a NUL character', { at: at(keyNode?.range?.[0]) });
        const key = keyText.toLowerCase();
        const childPath = path ? `${path}.${key}` : key;
        if (key in out || keyAt.has(childPath)) {
          throw new RedpakError(
            'schema',
            `key "${keyText}" appears twice in ${describePath(path)} (keys ignore case)`,
            {
              at: at(keyNode?.range?.[0]),
            },
          );
        }
        keyAt.set(childPath, at(keyNode?.range?.[0]));
        const value = walk(pair.value, childPath, depth + 1);
        if (value !== undefined) out[key] = value;
      }
      return out;
    }
    if (isSeq(node)) {
      const out: Plain[] = [];
      node.items.forEach((item, index) => {
        const value = walk(item, path ? `${path}.${index}` : String(index), depth + 1);
        if (value !== undefined) out.push(value);
      });
      return out;
    }
    if (isScalar(node)) {
      if (node.value === null || node.value === '') return undefined;
      const scalar = String(node.value);
      if (scalar.includes('\0'))
        throw new RedpakError('schema', `${describePath(path)} holds a NUL character`, { at: at(yamlNode.range?.[0]) });
      return scalar;
    }
    throw new RedpakError('schema', 'unexpected YAML node', { at: at(yamlNode.range?.[0]) });
  };

  const value = walk(doc.contents, '');
  if (value === undefined) throw new RedpakError('schema', 'the file is empty', { at: { file, line: 1, col: 1 } });
  return { value, valueAt, keyAt };
}

/** `exports.0.mode` → `exports[0].mode`, '' → `the top level`. */
export function describePath(path: string): string {
  if (!path) return 'the top level';
  return path.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

export function schemaFailure(error: SchemaError, located: Located, file: string): RedpakError {
  const path = error.instancePath.split('/').filter(Boolean).join('.');
  const where = describePath(path);
  const valueAt = located.valueAt.get(path) ?? { file, line: 0, col: 0 };
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const keyPath = path ? `${path}.${key}` : key;
      return new RedpakError('schema', `unknown key "${key}" in ${where}`, {
        at: located.keyAt.get(keyPath) ?? valueAt,
      });
    }
    case 'required': {
      const key = String((error.params as { missingProperty: string }).missingProperty);
      return new RedpakError('schema', `missing required key "${key}" in ${where}`, { at: valueAt });
    }
    case 'type': {
      const expected = String((error.params as { type: string }).type);
      const word = expected === 'object' ? 'a mapping' : expected === 'array' ? 'a list' : 'a plain value';
      return new RedpakError('schema', `${where} must be ${word}`, { at: valueAt });
    }
    default: {
      const given = lookupPlain(located.value, path);
      const shown = typeof given === 'string' ? `"${given}"` : 'value';
      const expected = (error.parentSchema as { description?: string } | undefined)?.description;
      return new RedpakError(
        'schema',
        `bad ${shown} for ${where}: ${expected ? `must be ${expected}` : (error.message ?? 'invalid')}`,
        { at: valueAt },
      );
    }
  }
}

function lookupPlain(value: Plain, path: string): Plain | undefined {
  let current: Plain | undefined = value;
  for (const part of path.split('.').filter(Boolean)) {
    if (current === undefined || typeof current === 'string') return undefined;
    current = Array.isArray(current) ? current[Number(part)] : current[part];
  }
  return current;
}

type Obj = { [key: string]: Plain };
const str = (o: Obj | undefined, key: string): string | undefined =>
  o && typeof o[key] === 'string' ? (o[key] as string) : undefined;
const int = (o: Obj | undefined, key: string): number => {
  const v = str(o, key);
  return v === undefined ? 0 : Number.parseInt(v, 10);
};
const bool = (o: Obj | undefined, key: string): boolean => {
  const v = str(o, key);
  return v === undefined ? false : BOOLEAN_WORDS[v.trim().toLowerCase()];
};
const tri = (o: Obj | undefined, key: string): TriState => {
  const v = str(o, key);
  return v === undefined ? 'Unset' : (canonicalEnum(TRI_STATES, v) as TriState);
};
const opt = <T extends object>(entries: T): T =>
  Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as T;

function buildCgroups(raw: Obj | undefined): CgroupsConfig | undefined {
  if (!raw) return undefined;
  const out: CgroupsConfig = {};
  for (const [controller, settings] of Object.entries(raw)) {
    (out as Record<string, Record<string, string>>)[controller] = { ...(settings as Record<string, string>) };
  }
  return out;
}

/** A node config read and checked (YAML, schema, alias, seccomp rules), not yet built into a NodeConfig. */
interface CheckedConfig {
  located: Located;
  root: Obj;
  alias: string;
  seccomp?: ReturnType<typeof validateSeccomp>;
}

/**
 * Every check parseNodeConfig makes, without building the config. Without `positions` the text is
 * read without them (what `tree` needs to show a node's alias), and read again with them for an
 * error to name its line.
 */
function checkNodeConfig(text: string, file: string, limits: ConfigLimits, positions = true): CheckedConfig {
  const located = parseLocated(text, file, limits, { positions });
  const placed = () => (positions ? located : parseLocated(text, file, limits));
  const check = validators().config;
  if (!check(located.value)) throw schemaFailure(check.errors![0], placed(), file);
  const root = located.value as Obj;
  const alias = str(root.headers as Obj, 'alias')!;
  if (!isValidAlias(alias)) {
    throw new RedpakError('invalid-alias', `invalid node alias "${alias}": use letters, digits and + - _ @ :`, {
      at: placed().valueAt.get('headers.alias'),
    });
  }
  return { located, root, alias, ...(root.seccomp ? { seccomp: parseSeccomp(root.seccomp, placed, file) } : {}) };
}

/** The alias of a node config, after the same checks as parseNodeConfig (the same errors). */
export function nodeConfigAlias(text: string, file: string, limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): string {
  return checkNodeConfig(text, file, limits, false).alias;
}

export function parseNodeConfig(
  text: string,
  file: string,
  kind: ConfigKind,
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
): NodeConfig {
  const { located, root, alias, seccomp } = checkNodeConfig(text, file, limits);
  const position = (path: string): SourcePosition =>
    located.keyAt.get(path) ?? located.valueAt.get(path) ?? { file, line: 0, col: 0 };
  const headersRaw = root.headers as Obj;

  const exports: ExportEntry[] = ((root.exports as Obj[] | undefined) ?? []).map((e, i) =>
    opt({
      mode: canonicalEnum(EXPORT_MODES, str(e, 'mode')!) as ExportMode,
      mount: str(e, 'mount')!,
      path: str(e, 'path'),
      info: str(e, 'info'),
      warn: str(e, 'warn'),
      at: position(`exports.${i}`),
    }),
  );
  const environ: EnvironEntry[] = ((root.environ as Obj[] | undefined) ?? []).map((e, i) =>
    opt({
      mode: (str(e, 'mode') === undefined ? 'Default' : canonicalEnum(ENVIRON_MODES, str(e, 'mode')!)) as EnvironMode,
      key: str(e, 'key')!,
      value: str(e, 'value'),
      info: str(e, 'info'),
      warn: str(e, 'warn'),
      at: position(`environ.${i}`),
    }),
  );

  const c = root.config as Obj | undefined;
  const capabilities: CapabilityEntry[] = ((c?.capabilities as Obj[] | undefined) ?? []).map((e, i) =>
    opt({
      cap: str(e, 'cap')!,
      add: int(e, 'add'),
      info: str(e, 'info'),
      warn: str(e, 'warn'),
      at: position(`config.capabilities.${i}`),
    }),
  );
  const config: ConfigTags = opt({
    persistdir: str(c, 'persistdir'),
    rpmdir: str(c, 'rpmdir'),
    cachedir: str(c, 'cachedir'),
    path: str(c, 'path'),
    ldpath: str(c, 'ldpath'),
    umask: str(c, 'umask'),
    'set-user': str(c, 'set-user'),
    'set-group': str(c, 'set-group'),
    smack: str(c, 'smack'),
    verbose: int(c, 'verbose'),
    'map-root-user': int(c, 'map-root-user'),
    gpgcheck: bool(c, 'gpgcheck'),
    unsafe: bool(c, 'unsafe'),
    'inherit-env': bool(c, 'inherit-env'),
    'die-with-parent': tri(c, 'die-with-parent'),
    'new-session': tri(c, 'new-session'),
    share_all: str(c, 'share_all'),
    share_user: str(c, 'share_user'),
    share_cgroup: str(c, 'share_cgroup'),
    share_net: str(c, 'share_net'),
    share_pid: str(c, 'share_pid'),
    share_ipc: str(c, 'share_ipc'),
    share_time: str(c, 'share_time'),
    cgroups: buildCgroups(c?.cgroups as Obj | undefined),
    hostname: str(c, 'hostname'),
    chdir: str(c, 'chdir'),
    cgrouproot: str(c, 'cgrouproot'),
    capabilities,
  });

  const positions: Record<string, SourcePosition> = {};
  for (const [path, pos] of located.keyAt) positions[path] = pos;

  return {
    file,
    kind,
    headers: opt({ alias, name: str(headersRaw, 'name'), info: str(headersRaw, 'info') }),
    exports,
    environ,
    config,
    ...(seccomp ? { seccomp } : {}),
    positions,
  };
}

/** The seccomp section, its errors placed at the rule they are about. */
function parseSeccomp(raw: Plain, placed: () => Located, file: string) {
  try {
    return validateSeccomp(raw, 'seccomp');
  } catch (error) {
    if (!(error instanceof SeccompValueError) || error.at) throw error;
    const located = placed();
    let path = error.valuePath.replace(/\[(\d+)\]/g, '.$1');
    while (path.includes('.') && !located.valueAt.has(path)) path = path.slice(0, path.lastIndexOf('.'));
    const at = located.keyAt.get(path) ?? located.valueAt.get(path) ?? { file, line: 0, col: 0 };
    throw new RedpakError(error.code, error.message, { at, hint: error.hint });
  }
}

/** A status file; without `positions` it is read without them, and read again with them for an error to name its line. */
export function parseNodeStatus(
  text: string,
  file: string,
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
  positions = true,
): NodeStatus {
  const located = parseLocated(text, file, limits, { positions });
  const check = validators().status;
  if (!check(located.value))
    throw schemaFailure(check.errors![0], positions ? located : parseLocated(text, file, limits), file);
  const root = located.value as Obj;
  return opt({
    realpath: str(root, 'realpath')!,
    info: str(root, 'info'),
    timestamp: Number.parseInt(str(root, 'timestamp')!, 10),
    state: str(root, 'state') as NodeState,
  });
}
