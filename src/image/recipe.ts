/**
 * Recipes: one declarative YAML file describing a whole family (redmanager apply). This module
 * reads and checks a recipe — text → typed, validated model with the file, line and column of
 * every value, node paths resolved, parents before children — and touches no node. Planning is
 * recipe-plan.ts, applying recipe-apply.ts, the lock file recipe-lock.ts.
 *
 * Recipe values are parsed like node configs (src/config/parse.ts): keys are case-insensitive,
 * scalars keep their text, unknown keys are errors.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { lstatSync, readFileSync } from 'node:fs';
import { basename, posix } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { RedpakError, type SourcePosition } from '../errors.js';
import {
  isValidAlias,
  parseLocated,
  parseNodeConfig,
  schemaFailure,
  describePath,
  type Located,
  type Plain,
} from '../config/parse.js';
import { AJV_OPTIONS, BOOLEAN_WORDS, NODE_CONFIG_SCHEMA } from '../config/schema.js';
import { toYaml } from '../config/serialize.js';
import type { Sysroot } from '../node/layout.js';
import { controlCharacter, isRepoId, parseRepoFile } from '../pkg/repofile.js';

// ---------------------------------------------------------------------------------------------
// Model

export interface PackageSpec {
  name: string;
  /** `[epoch:]version[-release]` of a `name = EVR` pin. */
  pin?: string;
  /** As written in the recipe. */
  text: string;
  at: SourcePosition;
}

export interface InlineConfig {
  /** The YAML text of a node config (headers added), ready for the node factory. */
  text: string;
  at: SourcePosition;
}

export interface RecipeNode {
  /** Absolute target path, no trailing `/`. */
  path: string;
  alias: string;
  template?: string;
  templateAdmin?: string;
  config?: InlineConfig;
  configAdmin?: InlineConfig;
  /** Create the parent directory as the system node when the node would have no ancestor (default true). */
  systemNode: boolean;
  enabled: boolean;
  packages: PackageSpec[];
  /** Remove the node's own packages that are neither listed nor needed by listed ones. */
  prune: boolean;
  at: SourcePosition;
}

export interface RecipeRepository {
  id: string;
  /** Target path of the node whose etc/yum.repos.d gets `<id>.repo`; undefined: the family's top node. */
  node?: string;
  /** The `.repo` file text written. */
  text: string;
  baseurl: string[];
  at: SourcePosition;
}

export interface Recipe {
  file: string;
  /** sha256 of the recipe file's bytes. */
  sha256: string;
  redroot: string;
  /** Register the build host's capabilities in a new family root (undefined: as create-node decides). */
  hostProvides?: boolean;
  /** Capabilities registered in the family root in addition (or instead, with host-provides: false). */
  hostCapabilities: string[];
  repositories: RecipeRepository[];
  /** Parents before children. */
  nodes: RecipeNode[];
  /** Recipe-wide default of `prune`. */
  prune: boolean;
}

// ---------------------------------------------------------------------------------------------
// Schema

type Schema = Record<string, unknown>;

function anyCase(words: readonly string[]): string {
  const word = (w: string) =>
    [...w]
      .map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c.replace(/[^\w]/g, '\\$&')))
      .join('');
  return `^(?:${words.map(word).join('|')})$`;
}
const text: Schema = { type: 'string' };
const boolText: Schema = {
  type: 'string',
  pattern: anyCase(Object.keys(BOOLEAN_WORDS)),
  description: 'a boolean (true/false, yes/no, on/off, 1/0)',
};
const intText: Schema = { type: 'string', pattern: '^\\s*-?[0-9]+\\s*$', description: 'an integer' };
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const list = (items: Schema): Schema => ({ type: 'array', items });
/** An inline node config: the node-config schema, headers optional (apply writes them). */
const inlineConfig: Schema = { ...NODE_CONFIG_SCHEMA, required: [] };

export const RECIPE_SCHEMA: Schema = object(
  {
    redroot: text,
    'host-provides': boolText,
    'host-capabilities': list(text),
    prune: boolText,
    repositories: list(
      object(
        {
          id: {
            type: 'string',
            pattern: '^[A-Za-z0-9_.:-]+$',
            description: 'a repository id (letters, digits, "_", ".", ":", "-")',
          },
          name: text,
          baseurl: text,
          enabled: boolText,
          gpgcheck: boolText,
          gpgkey: text,
          priority: intText,
          metadata_expire: text,
          sslcacert: text,
          sslverify: boolText,
          timeout: intText,
          node: text,
        },
        ['id', 'baseurl'],
      ),
    ),
    nodes: list(
      object({
        path: text,
        parent: text,
        name: { type: 'string', pattern: '^[^/]+$', description: 'a directory name (no "/")' },
        alias: text,
        template: text,
        'template-admin': text,
        config: inlineConfig,
        'config-admin': inlineConfig,
        'system-node': boolText,
        enabled: boolText,
        prune: boolText,
        packages: list(text),
      }),
    ),
  },
  ['redroot', 'nodes'],
);

let validator: ValidateFunction | undefined;
function recipeValidator(): ValidateFunction {
  if (!validator) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    validator = new Ajv(AJV_OPTIONS).compile(RECIPE_SCHEMA);
  }
  return validator;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Obj = { [key: string]: Plain };
const str = (o: Obj | undefined, key: string): string | undefined =>
  o && typeof o[key] === 'string' ? (o[key] as string) : undefined;
const boolOf = (o: Obj | undefined, key: string, fallback: boolean): boolean => {
  const v = str(o, key);
  return v === undefined ? fallback : BOOLEAN_WORDS[v.trim().toLowerCase()]!;
};

const PACKAGE_SPEC = /^([A-Za-z0-9_.+-]+)(?:\s*(=|==|<=|>=|<|>)\s*(\S+))?$/;

/** `name` or `name = [epoch:]version[-release]`. */
export function parsePackageSpec(textGiven: string, at: SourcePosition): PackageSpec {
  const spec = textGiven.trim();
  const match = PACKAGE_SPEC.exec(spec);
  if (!match) {
    throw new RedpakError(
      'schema',
      `bad package "${textGiven}": expected a package name, or "name = VERSION[-RELEASE]"`,
      { at },
    );
  }
  const [, name, op, evr] = match;
  if (op && op !== '=' && op !== '==') {
    throw new RedpakError(
      'schema',
      `bad package "${textGiven}": only "=" pins a version (a recipe describes one exact state)`,
      {
        at,
        hint: `write "${name} = VERSION-RELEASE", or just "${name}" for the newest`,
      },
    );
  }
  if (evr !== undefined && !/^(\d+:)?[A-Za-z0-9._+~^]+(-[A-Za-z0-9._+~^]+)?$/.test(evr)) {
    throw new RedpakError(
      'schema',
      `bad version "${evr}" in package "${textGiven}": expected [EPOCH:]VERSION[-RELEASE]`,
      { at },
    );
  }
  return { name: name!, ...(evr !== undefined ? { pin: evr } : {}), text: spec, at };
}

/** Whether an installed `[epoch:]version-release` satisfies a pin (`version` alone matches any release). */
export function pinMatches(pin: string, evr: string): boolean {
  const split = (v: string) => {
    const m = /^(?:(\d+):)?(.*)$/.exec(v)!;
    return { epoch: Number(m[1] ?? 0), rest: m[2]! };
  };
  const want = split(pin);
  const have = split(evr);
  if (want.epoch !== have.epoch) return false;
  if (want.rest === have.rest) return true;
  return !want.rest.includes('-') && have.rest.startsWith(`${want.rest}-`);
}

function inlineConfigText(
  raw: Plain,
  alias: string,
  kind: 'normal' | 'admin',
  at: SourcePosition,
  label: string,
): InlineConfig {
  const value = { ...(raw as Obj) };
  const headers = { ...((value.headers as Obj | undefined) ?? {}) };
  headers.alias = kind === 'admin' ? `admin-of-${alias}` : alias;
  const textOut = toYaml({ headers, ...Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'headers')) });
  try {
    parseNodeConfig(textOut, `${at.file} (${label})`, kind);
  } catch (error) {
    if (!(error instanceof RedpakError)) throw error;
    throw new RedpakError(error.code, `${label}: ${error.message}`, { at, hint: error.hint });
  }
  return { text: textOut, at };
}

interface RawNode {
  index: number;
  raw: Obj;
  alias: string;
  at: SourcePosition;
  path?: string;
}

/**
 * Reads and checks a recipe: schema, package specs, inline configs, repository definitions, node
 * paths (below the redroot, no cycle through `parent:`, no symlink on the way when `sysroot`
 * is given to look at the disk), duplicates. Returns the nodes parents first.
 */
export function parseRecipe(source: string, file: string, options: { sysroot?: Sysroot } = {}): Recipe {
  const located: Located = parseLocated(source, file);
  const check = recipeValidator();
  if (!check(located.value)) throw schemaFailure(check.errors![0]!, located, file);
  const root = located.value as Obj;
  const posOf = (path: string): SourcePosition =>
    located.keyAt.get(path) ?? located.valueAt.get(path) ?? { file, line: 0, col: 0 };
  const valueAt = (path: string): SourcePosition => located.valueAt.get(path) ?? posOf(path);
  const fail = (path: string, message: string, hint?: string): never => {
    throw new RedpakError('schema', message, { at: valueAt(path), hint });
  };

  const redrootText = str(root, 'redroot')!;
  if (!redrootText.startsWith('/')) fail('redroot', `redroot must be an absolute path, got "${redrootText}"`);
  const redroot = posix.resolve(redrootText).replace(/\/+$/, '') || '/';
  if (redroot === '/')
    fail('redroot', 'redroot cannot be /', 'give the directory that holds the family, e.g. /var/redpak');
  const below = (p: string) => p === redroot || p.startsWith(`${redroot}/`);

  // Nodes: aliases first (a `parent:` names one), then paths.
  const rawNodes: RawNode[] = ((root.nodes as Obj[] | undefined) ?? []).map((raw, index) => {
    const where = `nodes.${index}`;
    const path = str(raw, 'path');
    const parent = str(raw, 'parent');
    const name = str(raw, 'name');
    if (path !== undefined && (parent !== undefined || name !== undefined)) {
      fail(`${where}.path`, `${describePath(where)} has both "path" and "parent"/"name": give one or the other`);
    }
    if (path === undefined && (parent === undefined || name === undefined)) {
      fail(where, `${describePath(where)} needs "path", or "parent" (an alias) and "name" (a directory)`);
    }
    if (path !== undefined && !path.startsWith('/')) fail(`${where}.path`, `node path must be absolute, got "${path}"`);
    const alias = str(raw, 'alias') ?? basename(path ?? name!);
    if (!isValidAlias(alias)) {
      throw new RedpakError('invalid-alias', `invalid node alias "${alias}": use letters, digits and + - _ @ :`, {
        at: valueAt(str(raw, 'alias') ? `${where}.alias` : where),
      });
    }
    return {
      index,
      raw,
      alias,
      at: posOf(where),
      ...(path !== undefined ? { path: posix.resolve(path).replace(/\/+$/, '') } : {}),
    };
  });
  if (rawNodes.length === 0) fail('nodes', 'the recipe has no node');
  const byAlias = new Map<string, RawNode>();
  for (const n of rawNodes) {
    const seen = byAlias.get(n.alias);
    if (seen)
      fail(
        `nodes.${n.index}`,
        `alias "${n.alias}" is used by two nodes (nodes[${seen.index}] and nodes[${n.index}])`,
        'give each node its own alias',
      );
    byAlias.set(n.alias, n);
  }
  const resolving: RawNode[] = [];
  const resolvePath = (n: RawNode): string => {
    if (n.path !== undefined) return n.path;
    if (resolving.includes(n)) {
      const cycle = [...resolving.slice(resolving.indexOf(n)), n].map((m) => m.alias).join(' → ');
      fail(
        `nodes.${n.index}.parent`,
        `nodes ${cycle} form a cycle through their "parent" keys`,
        "a node's parent must be a node above it",
      );
    }
    const parentAlias = str(n.raw, 'parent')!;
    const parent = byAlias.get(parentAlias);
    if (!parent)
      fail(
        `nodes.${n.index}.parent`,
        `parent "${parentAlias}" of node ${n.alias} is not the alias of a node of the recipe`,
      );
    resolving.push(n);
    const parentPath = resolvePath(parent!);
    resolving.pop();
    n.path = `${parentPath}/${str(n.raw, 'name')!}`;
    return n.path;
  };
  for (const n of rawNodes) resolvePath(n);

  const byPath = new Map<string, RawNode>();
  for (const n of rawNodes) {
    const where = `nodes.${n.index}`;
    if (!below(n.path!)) {
      fail(
        n.raw.path !== undefined ? `${where}.path` : where,
        `node ${n.alias} (${n.path}) is outside the redroot ${redroot}`,
        `every node must be ${redroot} or below it`,
      );
    }
    const seen = byPath.get(n.path!);
    if (seen) fail(where, `nodes[${seen.index}] and nodes[${n.index}] are the same node ${n.path}`);
    byPath.set(n.path!, n);
    if (options.sysroot) {
      // A symlink on the way would put the node somewhere else than the recipe says.
      for (let p = n.path!; p.length >= redroot.length && p !== '/'; p = posix.dirname(p)) {
        let isLink = false;
        try {
          isLink = lstatSync(options.sysroot.toHost(p)).isSymbolicLink();
        } catch {
          isLink = false;
        }
        if (isLink)
          fail(
            n.raw.path !== undefined ? `${where}.path` : where,
            `node ${n.alias} (${n.path}) is outside the redroot ${redroot}: ${p} is a symbolic link`,
            'nodes are real directories below the redroot',
          );
      }
    }
  }

  const prune = boolOf(root, 'prune', false);
  const nodes: RecipeNode[] = rawNodes.map((n) => {
    const where = `nodes.${n.index}`;
    const raw = n.raw;
    if (raw.config !== undefined && (raw.template !== undefined || raw['template-admin'] !== undefined)) {
      fail(`${where}.config`, `node ${n.alias} has both "config" and "template": give one`);
    }
    if (raw['config-admin'] !== undefined && raw['template-admin'] !== undefined) {
      fail(`${where}.config-admin`, `node ${n.alias} has both "config-admin" and "template-admin": give one`);
    }
    if (
      (raw['config-admin'] !== undefined || raw['template-admin'] !== undefined) &&
      raw.config === undefined &&
      raw.template === undefined
    ) {
      fail(
        `${where}.${raw['config-admin'] !== undefined ? 'config-admin' : 'template-admin'}`,
        `node ${n.alias} gives an admin config without a normal one: add "template" or "config"`,
      );
    }
    const packages = ((raw.packages as string[] | undefined) ?? []).map((p, i) =>
      parsePackageSpec(p, valueAt(`${where}.packages.${i}`)),
    );
    const names = new Map<string, PackageSpec>();
    for (const p of packages) {
      if (names.has(p.name))
        throw new RedpakError('schema', `package ${p.name} is listed twice for node ${n.alias}`, { at: p.at });
      names.set(p.name, p);
    }
    return {
      path: n.path!,
      alias: n.alias,
      ...(str(raw, 'template') ? { template: str(raw, 'template') } : {}),
      ...(str(raw, 'template-admin') ? { templateAdmin: str(raw, 'template-admin') } : {}),
      ...(raw.config !== undefined
        ? {
            config: inlineConfigText(
              raw.config,
              n.alias,
              'normal',
              posOf(`${where}.config`),
              `inline config of node ${n.alias}`,
            ),
          }
        : {}),
      ...(raw['config-admin'] !== undefined
        ? {
            configAdmin: inlineConfigText(
              raw['config-admin'],
              n.alias,
              'admin',
              posOf(`${where}.config-admin`),
              `inline admin config of node ${n.alias}`,
            ),
          }
        : {}),
      systemNode: boolOf(raw, 'system-node', true),
      enabled: boolOf(raw, 'enabled', true),
      packages,
      prune: boolOf(raw, 'prune', prune),
      at: n.at,
    };
  });
  // Parents before children: a node's ancestors are path prefixes, so depth order is enough;
  // nodes of one depth keep the recipe's order.
  nodes.sort((a, b) => a.path.split('/').length - b.path.split('/').length);

  // A package listed in a node and in one of its ancestors would be a duplicate (rule 2).
  for (const node of nodes) {
    for (const other of nodes) {
      if (other === node || !node.path.startsWith(`${other.path}/`)) continue;
      for (const p of node.packages) {
        if (other.packages.some((q) => q.name === p.name)) {
          throw new RedpakError(
            'family-rule',
            `package ${p.name} is listed for node ${node.alias} and for its ancestor ${other.alias}: a node reuses what its ancestors install`,
            {
              at: p.at,
              hint: `list it only for ${other.alias}`,
            },
          );
        }
      }
    }
  }

  const repositories: RecipeRepository[] = ((root.repositories as Obj[] | undefined) ?? []).map((raw, index) => {
    const where = `repositories.${index}`;
    const id = str(raw, 'id')!;
    const nodeText = str(raw, 'node');
    let node: string | undefined;
    if (nodeText !== undefined) {
      node = nodeText.startsWith('/') ? posix.resolve(nodeText).replace(/\/+$/, '') : byAlias.get(nodeText)?.path;
      if (node === undefined)
        fail(
          `${where}.node`,
          `repository ${id}: node "${nodeText}" is neither an absolute path nor the alias of a node of the recipe`,
        );
      if (!below(node!)) fail(`${where}.node`, `repository ${id}: node ${node} is outside the redroot ${redroot}`);
    }
    // Every value becomes a line of the .repo file: a newline would start another line (another
    // repository section), any control character is refused; `.`/`..` would name the cache's parent.
    if (!isRepoId(id))
      fail(
        `${where}.id`,
        `repository id "${id}" in ${file} is not allowed ("." and ".." name the cache directory itself or its parent)`,
      );
    for (const key of ['name', 'baseurl', 'gpgkey', 'metadata_expire', 'sslcacert', 'priority', 'timeout']) {
      const value = str(raw, key);
      const bad =
        value === undefined
          ? undefined
          : controlCharacter(key === 'priority' || key === 'timeout' ? value.trim() : value);
      if (bad)
        fail(
          `${where}.${key}`,
          `repository ${id}: ${key} in ${file} holds a control character (${bad}); it would change the .repo file written from it`,
        );
    }
    const bool01 = (key: string, fallback: boolean) => (boolOf(raw, key, fallback) ? '1' : '0');
    const lines = [
      `# written by redmanager apply from ${basename(file)}`,
      `[${id}]`,
      `name=${str(raw, 'name') ?? id}`,
      `baseurl=${str(raw, 'baseurl')!}`,
      `enabled=${bool01('enabled', true)}`,
      `gpgcheck=${bool01('gpgcheck', false)}`,
      ...(str(raw, 'gpgkey') ? [`gpgkey=${str(raw, 'gpgkey')}`] : []),
      ...(str(raw, 'priority') ? [`priority=${str(raw, 'priority')!.trim()}`] : []),
      ...(str(raw, 'metadata_expire') ? [`metadata_expire=${str(raw, 'metadata_expire')}`] : []),
      ...(str(raw, 'sslcacert') ? [`sslcacert=${str(raw, 'sslcacert')}`] : []),
      ...(raw.sslverify !== undefined ? [`sslverify=${bool01('sslverify', true)}`] : []),
      ...(str(raw, 'timeout') ? [`timeout=${str(raw, 'timeout')!.trim()}`] : []),
    ];
    const repoText = `${lines.join('\n')}\n`;
    let baseurl: string[];
    try {
      const parsed = parseRepoFile(repoText, `${file} (${describePath(where)})`);
      if (parsed.length !== 1)
        fail(where, `repository ${id} in ${file} would write ${parsed.length} repository sections`);
      baseurl = parsed[0]!.baseurl;
    } catch (error) {
      if (!(error instanceof RedpakError)) throw error;
      throw new RedpakError('schema', `repository ${id}: ${error.message.replace(/^.*?\):\d+: /, '')}`, {
        at: posOf(where),
      });
    }
    return { id, ...(node !== undefined ? { node } : {}), text: repoText, baseurl, at: posOf(where) };
  });
  const ids = new Map<string, number>();
  repositories.forEach((r, i) => {
    if (ids.has(r.id))
      fail(
        `repositories.${i}.id`,
        `repository ${r.id} is defined twice (repositories[${ids.get(r.id)}] and repositories[${i}])`,
      );
    ids.set(r.id, i);
  });

  return {
    file,
    sha256: createHash('sha256').update(source).digest('hex'),
    redroot,
    ...(root['host-provides'] !== undefined ? { hostProvides: boolOf(root, 'host-provides', false) } : {}),
    hostCapabilities: (root['host-capabilities'] as string[] | undefined) ?? [],
    repositories,
    nodes,
    prune,
  };
}

/** Reads a recipe file (see parseRecipe). */
export function readRecipe(file: string, options: { sysroot?: Sysroot } = {}): Recipe {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RedpakError('io', `cannot read recipe ${file}: ${(error as Error).message}`);
  }
  return parseRecipe(source, file, options);
}
