/**
 * Node creation from templates or given files (docs/node-layout.md, "Creating a node"), and the state
 * changes of an existing node (enable, disable, remove).
 *
 * Everything is read and checked before the first write; the writes go through an FsTransaction,
 * so a failure leaves no half-written node behind.
 */
import { existsSync, lstatSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Document } from 'yaml';
import { RedpakError } from '../errors.js';
import { expand, formatToday, type HostFacts } from '../config/expand.js';
import { isValidAlias, parseNodeConfig } from '../config/parse.js';
import { serializeStatus } from '../config/serialize.js';
import type { ConfigKind, Headers, NodeState, NodeStatus } from '../config/types.js';
import { yamlLibrary } from '../config/yaml-library.js';
import { FsTransaction } from '../system/fs-transaction.js';
import { ADMIN_CONFIG, configPath, NORMAL_CONFIG, RPMDB_DIR, STATUS_FILE, statusPath, Sysroot } from './layout.js';
import { assertNoLinkBelow, descendantPaths, isNodeDir, loadNode, loadTree, nodeTarget } from './load.js';
import { configLimits, assertConfigSize } from '../config/limits.js';
import { packagePath } from '../package-root.js';

/** templates/ of this package. */
export const BUILTIN_TEMPLATE_DIR = packagePath('templates');

export interface CreateNodeRequest {
  redpath: string;
  sysroot?: string;
  alias?: string;
  template?: string;
  templateAdmin?: string;
  /** A config file used as the node's normal config (headers rewritten). */
  config?: string;
  /** A config file used as the node's admin config; with `config` and without this, no admin file. */
  configAdmin?: string;
  /** Create the parent as the `system` node when the new node would have no ancestor (default true). */
  systemNode?: boolean;
  /** Rewrite an existing node's configs, keeping its headers, and enable it. */
  update?: boolean;
  templateDir?: string;
  cwd?: string;
  host: HostFacts;
  /** Who writes the status `info` line. */
  tool?: string;
}

export interface CreatedNode {
  path: string;
  hostPath: string;
  alias: string;
  name: string;
  action: 'created' | 'updated';
  /** Where the normal and admin configs came from. */
  sources: { normal: string; admin?: string };
  files: string[];
}

/** Planned content of one node, fully checked, not yet written. */
interface NodeDraft extends CreatedNode {
  contents: { file: string; text: string }[];
}

/**
 * Where templates are looked up, first match wins: the directory given, else
 * `$REDNODE_TEMPLATE_DIR`, else redpak's own directory (`$redpak_TMPL`, or
 * `$NODE_PREFIX/etc/redpak/templates.d`) when it exists, then the templates shipped here. The
 * directories are root's to write on a host (`/etc`), as the shipped ones are.
 */
export function templateDirs(request: { templateDir?: string; host: HostFacts }): string[] {
  const { env } = request.host;
  const given = request.templateDir ?? env.REDNODE_TEMPLATE_DIR;
  if (given) return [given];
  const redpak = env.redpak_TMPL ?? `${env.NODE_PREFIX ?? ''}/etc/redpak/templates.d`;
  return [...(existsSync(redpak) && statSync(redpak).isDirectory() ? [redpak] : []), BUILTIN_TEMPLATE_DIR];
}

/** redpak names the system templates `root` (`root-normal.yaml`); the shipped ones are `system`. */
function templateSpellings(name: string): string[] {
  const other = name.replace(/^(root|system)(?=$|-)/, (word) => (word === 'root' ? 'system' : 'root'));
  return other === name ? [name] : [name, other];
}

/**
 * Finds a template: a name with `/` is a path, else it is looked up in the template directories.
 * Tried in order, in each directory: NAME, NAME.yaml, NAME-normal.yaml (or NAME-admin.yaml), with
 * `root` and `system` taken for each other.
 */
export function resolveTemplate(name: string, kind: ConfigKind, dirs: readonly string[]): string {
  const bases = name.includes('/')
    ? [resolve(name)]
    : dirs.flatMap((dir) => templateSpellings(name).map((spelling) => join(dir, spelling)));
  const candidates = bases.flatMap((base) => [
    base,
    ...(base.endsWith('.yaml') ? [] : [`${base}.yaml`]),
    `${base}-${kind}.yaml`,
  ]);
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new RedpakError('template-missing', `no ${kind} template "${name}": tried ${candidates.join(', ')}`, {
    hint: `templates in ${dirs.join(', ')}: system (or root), leaf, full (each with -normal.yaml and -admin.yaml)`,
  });
}

function readSource(file: string): string {
  try {
    assertConfigSize(statSync(file).size, file, configLimits(process.env));
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new RedpakError('io', `cannot read ${file}: ${(error as Error).message}`);
  }
}

/**
 * The source text with its headers replaced, keeping the rest (comments included) as written.
 * The result is parsed back, so a bad template is reported with its own file and line.
 */
function withHeaders(sourceText: string, sourceFile: string, kind: ConfigKind, headers: Headers): string {
  // Checked as written first, so errors point at the source's own lines.
  parseNodeConfig(sourceText, sourceFile, kind);
  const { isMap, parseDocument } = yamlLibrary();
  const doc: Document = parseDocument(sourceText);
  const root = doc.contents;
  if (!isMap(root))
    throw new RedpakError('schema', 'the top level must be a mapping', { at: { file: sourceFile, line: 1, col: 1 } });
  const headersKey =
    root.items
      .map((p) => String((p.key as { value?: unknown })?.value ?? ''))
      .find((k) => k.toLowerCase() === 'headers') ?? 'headers';
  doc.set(headersKey, doc.createNode({ alias: headers.alias, name: headers.name, info: headers.info }));
  const text = doc.toString({ indentSeq: false, lineWidth: 0 });
  parseNodeConfig(text, sourceFile, kind);
  return text;
}

function existingHeaders(hostPath: string, kind: ConfigKind): Headers | undefined {
  const file = configPath(hostPath, kind);
  if (!file) return undefined;
  assertNoLinkBelow(hostPath, file);
  return parseNodeConfig(readSource(file), file, kind).headers;
}

/**
 * Refuses a node directory, or anything create-node writes below it, that is a symbolic link:
 * the node's own admin can plant `etc -> /etc`, and create-node runs as root. Checked before
 * anything is written, and again right before each write.
 */
function assertNodePathsNotLinks(hostPath: string, files: string[]): void {
  let isLink = false;
  try {
    isLink = lstatSync(hostPath).isSymbolicLink();
  } catch {
    return; // a new node: nothing there yet
  }
  if (isLink) {
    throw new RedpakError('io', `${hostPath} is a symbolic link: a node directory must be a directory`, {
      hint: 'give the real path of the directory',
    });
  }
  for (const below of [join(hostPath, 'var', RPMDB_DIR.slice('var/'.length)), ...files])
    assertNoLinkBelow(hostPath, below);
}

function newStatus(targetPath: string, host: HostFacts, tool: string, verb: string): NodeStatus {
  return {
    realpath: targetPath,
    info: `${verb} by ${tool} the ${formatToday(host.now)}`,
    timestamp: host.now.getTime(),
    state: 'Enable',
  };
}

function draftNode(options: {
  sysroot: Sysroot;
  targetPath: string;
  alias: string;
  normalSource: string;
  adminSource?: string;
  update: boolean;
  host: HostFacts;
  tool: string;
}): NodeDraft {
  const { sysroot, targetPath, alias, host } = options;
  const hostPath = sysroot.toHost(targetPath);
  if (!isValidAlias(alias)) {
    throw new RedpakError('invalid-alias', `invalid node alias "${alias}": use letters, digits and + - _ @ :`, {
      hint: targetPath.length > 1 ? 'give one with --alias' : undefined,
    });
  }
  const info = expand('Node created by $LOGNAME($HOSTNAME) the $TODAY', { host, commands: false });
  const fresh = (a: string): Headers => ({ alias: a, name: host.uuid(), info });
  let normalHeaders = fresh(alias);
  let adminHeaders = fresh(`admin-of-${alias}`);
  if (options.update) {
    const kept = existingHeaders(hostPath, 'normal');
    if (!kept) throw new RedpakError('not-a-node', `cannot update ${targetPath}: it has no ${NORMAL_CONFIG}`);
    normalHeaders = kept;
    adminHeaders = existingHeaders(hostPath, 'admin') ?? adminHeaders;
  }
  const contents = [
    {
      file: join(hostPath, NORMAL_CONFIG),
      text: withHeaders(readSource(options.normalSource), options.normalSource, 'normal', normalHeaders),
    },
  ];
  if (options.adminSource) {
    contents.push({
      file: join(hostPath, ADMIN_CONFIG),
      text: withHeaders(readSource(options.adminSource), options.adminSource, 'admin', adminHeaders),
    });
  }
  contents.push({
    file: statusPath(hostPath),
    text: serializeStatus(newStatus(targetPath, host, options.tool, options.update ? 'updated' : 'created')),
  });
  return {
    path: targetPath,
    hostPath,
    alias: normalHeaders.alias,
    name: normalHeaders.name ?? '',
    action: options.update ? 'updated' : 'created',
    sources: { normal: options.normalSource, ...(options.adminSource ? { admin: options.adminSource } : {}) },
    files: contents.map((c) => c.file),
    contents,
  };
}

/**
 * Whether the node will have an ancestor. A disabled ancestor is refused: nothing may be added
 * to a family that is switched off.
 */
function checkAncestors(sysroot: Sysroot, targetPath: string): { hasAncestor: boolean } {
  let hasAncestor = false;
  for (let dir = dirname(targetPath); dir !== '/'; dir = dirname(dir)) {
    const node = isNodeDir(sysroot.toHost(dir)) ? loadNode(sysroot, dir, { admin: false }) : undefined;
    if (!node) continue;
    hasAncestor = true;
    if (node.status.state !== 'Enable') {
      throw new RedpakError(
        'node-disabled',
        `cannot create ${targetPath}: its ancestor ${node.alias} (${node.path}) is disabled`,
        {
          hint: `enable it first: redmanager enable --redpath ${node.path}`,
        },
      );
    }
  }
  return { hasAncestor };
}

/**
 * Creates (or with `update`, rewrites) a node. Returns the nodes written, a system node first
 * when one was created for it.
 */
export function createNode(request: CreateNodeRequest): CreatedNode[] {
  const sysroot = Sysroot.open(request.sysroot);
  // The parent with its links followed (its family is the real one); the node itself must not be a link.
  const givenPath = sysroot.targetPath(request.redpath, request.cwd);
  const targetPath =
    givenPath === '/' ? givenPath : join(sysroot.resolveTarget(dirname(givenPath)), basename(givenPath));
  const hostPath = sysroot.toHost(targetPath);
  const tool = request.tool ?? 'redmanager';
  const update = request.update ?? false;
  if (targetPath === '/') throw new RedpakError('usage', '/ cannot be a node', { hint: 'give a directory below it' });
  const exists = isNodeDir(hostPath);
  if (exists && !update) {
    throw new RedpakError('node-exists', `${targetPath} is a node already`, {
      hint: 'use --update to rewrite its configs (headers are kept)',
    });
  }
  if (!exists && update)
    throw new RedpakError('not-a-node', `cannot update ${targetPath}: it is not a node (no ${STATUS_FILE})`);

  const dir = templateDirs(request);
  const isRoot = !checkAncestors(sysroot, targetPath).hasAncestor;
  const withSystemNode = (request.systemNode ?? true) && isRoot && !update;
  const drafts: NodeDraft[] = [];

  if (withSystemNode) {
    const systemPath = dirname(targetPath);
    if (systemPath === '/') {
      throw new RedpakError('usage', `cannot create a system node for ${targetPath}: its parent is /`, {
        hint: 'use a deeper path (for example /var/redpak/NAME) or --no-system-node',
      });
    }
    drafts.push(
      draftNode({
        sysroot,
        targetPath: systemPath,
        alias: 'system',
        normalSource: resolveTemplate('system', 'normal', dir),
        adminSource: resolveTemplate('system', 'admin', dir),
        update: false,
        host: request.host,
        tool,
      }),
    );
  }

  // A first node without a system node above it carries both roles: the `full` templates.
  const defaultTemplate = isRoot && !withSystemNode ? 'full' : 'leaf';
  let normalSource: string;
  let adminSource: string | undefined;
  if (request.config) {
    normalSource = resolve(request.cwd ?? process.cwd(), request.config);
    adminSource = request.configAdmin ? resolve(request.cwd ?? process.cwd(), request.configAdmin) : undefined;
  } else {
    normalSource = resolveTemplate(request.template ?? defaultTemplate, 'normal', dir);
    adminSource = request.configAdmin
      ? resolve(request.cwd ?? process.cwd(), request.configAdmin)
      : resolveTemplate(request.templateAdmin ?? request.template ?? defaultTemplate, 'admin', dir);
  }
  drafts.push(
    draftNode({
      sysroot,
      targetPath,
      alias: request.alias ?? basename(targetPath),
      normalSource,
      adminSource,
      update,
      host: request.host,
      tool,
    }),
  );

  for (const draft of drafts) assertNodePathsNotLinks(draft.hostPath, draft.files);
  FsTransaction.run((tx) => {
    for (const draft of drafts) {
      tx.mkdirp(draft.hostPath);
      // On update an admin file no longer wanted is left alone: removing config is not ours to guess.
      for (const { file, text } of draft.contents) {
        assertNodePathsNotLinks(draft.hostPath, [file]);
        tx.writeFile(file, text);
      }
    }
  });
  return drafts.map(({ contents: _written, ...node }) => node);
}

/** Enables or disables a node by rewriting its status (the rest of the status is kept). */
export function setNodeState(options: {
  redpath: string;
  sysroot?: string;
  cwd?: string;
  state: NodeState;
  host: HostFacts;
  tool?: string;
}): {
  path: string;
  alias: string;
  previous: NodeState;
  state: NodeState;
} {
  const sysroot = Sysroot.open(options.sysroot);
  const targetPath = nodeTarget(sysroot, options.redpath, options.cwd);
  const node = loadNode(sysroot, targetPath, { admin: false });
  if (!node)
    throw new RedpakError(
      'not-a-node',
      `${targetPath} is not a node (no ${STATUS_FILE} in ${sysroot.toHost(targetPath)})`,
    );
  const status: NodeStatus = {
    ...node.status,
    state: options.state,
    timestamp: options.host.now.getTime(),
    info: `${options.state === 'Enable' ? 'enabled' : 'disabled'} by ${options.tool ?? 'redmanager'} the ${formatToday(options.host.now)}`,
  };
  FsTransaction.run((tx) => tx.writeFile(node.statusFile, serializeStatus(status)));
  return { path: node.path, alias: node.alias, previous: node.status.state, state: options.state };
}

/** Removes a node directory; refuses when it has child nodes unless `recursive`. */
export function removeNode(options: { redpath: string; sysroot?: string; cwd?: string; recursive?: boolean }): {
  path: string;
  removed: string[];
} {
  const sysroot = Sysroot.open(options.sysroot);
  const targetPath = nodeTarget(sysroot, options.redpath, options.cwd);
  const hostPath = sysroot.toHost(targetPath);
  if (!isNodeDir(hostPath))
    throw new RedpakError('not-a-node', `${targetPath} is not a node (no ${STATUS_FILE} in ${hostPath})`);
  const tree = loadTree(targetPath, { sysroot });
  const below = descendantPaths(tree);
  if (below.length && !options.recursive) {
    throw new RedpakError('node-has-children', `${targetPath} has child nodes: ${below.join(', ')}`, {
      hint: 'remove them first, or use --recursive to remove the whole branch',
    });
  }
  // Sub-directories that are not nodes are part of the node's rootfs snippet and go with it.
  rmSync(hostPath, { recursive: true, force: true });
  return { path: targetPath, removed: [targetPath, ...below] };
}
