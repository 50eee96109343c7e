/**
 * Package groups (comps): the `group` metadata of a repository (createrepo_c -g comps.xml), read
 * with a small strict XML reader. A repository is untrusted: the document may not declare a
 * DOCTYPE or entities, every id and package name must be a plain name (never a glob, a path or a
 * capability, since package names become solver jobs), and an error names the file and line.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { DOWNLOAD_LIMITS, matchesRepoGlob, parseRepomd, unsafeHref, type SyncedRepo } from './repos.js';

/** dnf's four kinds of package in a group. */
export type PackageReqType = 'mandatory' | 'default' | 'optional' | 'conditional';

export interface GroupPackage {
  name: string;
  type: PackageReqType;
  /** conditional: installed only with this package (installed or coming in the same transaction). */
  requires?: string;
}

export interface CompsGroup {
  id: string;
  name: string;
  description: string;
  /** Hidden groups (uservisible false) show in `group list` only with --hidden. */
  uservisible: boolean;
  /** Selected by default in installers; shown by `group info`. */
  default: boolean;
  displayOrder?: number;
  packages: GroupPackage[];
  /** The repositories whose comps define the group (merged when several do, as dnf merges them). */
  repos: string[];
}

/** An rpm package name: no glob, path, space or version operator. */
export const PACKAGE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
/** A comps group id. */
export const GROUP_ID = /^[A-Za-z0-9_][A-Za-z0-9._:+-]*$/;

// ---------------------------------------------------------------------------------------------
// A strict XML reader: elements, attributes, text, comments, CDATA, the XML declaration.

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  line: number;
}

const MAX_DEPTH = 32;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlError(source: string, line: number, why: string): RedpakError {
  return new RedpakError('package', `${source} line ${line}: refused comps data: ${why}`, {
    hint: 'the repository publishes a broken or hostile group file; nothing was changed',
  });
}

function decodeEntities(text: string, source: string, line: number): string {
  return text.replace(/&([^;\s&<]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw xmlError(source, line, `a bare "&" (${JSON.stringify(whole.slice(0, 12))})`);
    let code: number | undefined;
    if (/^#x[0-9a-fA-F]{1,6}$/.test(name)) code = parseInt(name.slice(2), 16);
    else if (/^#\d{1,7}$/.test(name)) code = parseInt(name.slice(1), 10);
    else if (name in ENTITIES) return ENTITIES[name];
    if (code === undefined || code > 0x10ffff || (code < 0x20 && code !== 9 && code !== 10 && code !== 13))
      throw xmlError(source, line, `unknown or forbidden entity ${JSON.stringify(whole)}`);
    return String.fromCodePoint(code);
  });
}

/** The document's root element. `source` names the file in errors. */
export function parseXml(text: string, source: string): XmlElement {
  let pos = 0;
  let line = 1;
  const advance = (to: number) => {
    for (let i = pos; i < to; i += 1) if (text.charCodeAt(i) === 10) line += 1;
    pos = to;
  };
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const until = (marker: string, what: string) => {
    const end = text.indexOf(marker, pos);
    if (end < 0) throw xmlError(source, line, `unterminated ${what}`);
    return end;
  };
  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    const textEnd = lt < 0 ? text.length : lt;
    if (textEnd > pos) {
      const chunk = text.slice(pos, textEnd);
      const top = stack.at(-1);
      if (top) top.text += decodeEntities(chunk, source, line);
      else if (chunk.trim() !== '') throw xmlError(source, line, 'text outside the root element');
      advance(textEnd);
      continue;
    }
    if (text.startsWith('<?', pos)) {
      advance(until('?>', 'processing instruction') + 2);
    } else if (text.startsWith('<!--', pos)) {
      advance(until('-->', 'comment') + 3);
    } else if (text.startsWith('<![CDATA[', pos)) {
      const end = until(']]>', 'CDATA section');
      const top = stack.at(-1);
      if (!top) throw xmlError(source, line, 'CDATA outside the root element');
      top.text += text.slice(pos + 9, end);
      advance(end + 3);
    } else if (text.startsWith('<!', pos)) {
      throw xmlError(source, line, `${JSON.stringify(text.slice(pos, pos + 9))} (a DOCTYPE or an entity declaration)`);
    } else if (text.startsWith('</', pos)) {
      const end = until('>', 'end tag');
      const name = text.slice(pos + 2, end).trim();
      if (!/^[A-Za-z_][\w:.-]*$/.test(name)) throw xmlError(source, line, `malformed end tag </${name.slice(0, 20)}>`);
      const open = stack.pop();
      if (!open || open.name !== name)
        throw xmlError(source, line, `</${name}> closes ${open ? `<${open.name}> of line ${open.line}` : 'nothing'}`);
      advance(end + 1);
    } else {
      const end = until('>', 'tag');
      const body = text.slice(pos + 1, end);
      const selfClosing = body.endsWith('/');
      const tag = /^([A-Za-z_][\w:.-]*)([\s\S]*?)\/?$/.exec(body);
      if (!tag) throw xmlError(source, line, `malformed tag <${body.slice(0, 20)}`);
      const attrs: Record<string, string> = {};
      const attrText = tag[2];
      const attrRe = /\s+([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;
      let at = 0;
      while (at < attrText.length) {
        attrRe.lastIndex = at;
        const m = attrRe.exec(attrText);
        if (!m) {
          if (attrText.slice(at).trim() === '') break;
          throw xmlError(source, line, `malformed attributes in <${tag[1]}>`);
        }
        if (m[1] in attrs) throw xmlError(source, line, `attribute ${m[1]} given twice in <${tag[1]}>`);
        attrs[m[1]] = decodeEntities(m[2] ?? m[3] ?? '', source, line);
        at = attrRe.lastIndex;
      }
      const element: XmlElement = { name: tag[1], attrs, children: [], text: '', line };
      const parent = stack.at(-1);
      if (parent) parent.children.push(element);
      else if (root) throw xmlError(source, line, 'a second root element');
      else root = element;
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) throw xmlError(source, line, `elements nested deeper than ${MAX_DEPTH}`);
        stack.push(element);
      }
      advance(end + 1);
    }
  }
  const open = stack.at(-1);
  if (open) throw xmlError(source, line, `<${open.name}> of line ${open.line} is never closed`);
  if (!root) throw xmlError(source, line, 'no root element');
  return root;
}

// ---------------------------------------------------------------------------------------------
// comps

const TYPES: readonly PackageReqType[] = ['mandatory', 'default', 'optional', 'conditional'];

/** The text of the first child `name` without xml:lang (the untranslated one). */
function childText(element: XmlElement, name: string): string | undefined {
  return element.children.find((c) => c.name === name && c.attrs['xml:lang'] === undefined)?.text.trim();
}

function booleanOf(element: XmlElement, name: string, fallback: boolean, source: string): boolean {
  const child = element.children.find((c) => c.name === name);
  if (!child) return fallback;
  const value = child.text.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw xmlError(source, child.line, `<${name}> is ${JSON.stringify(value)}, not true or false`);
}

/** The groups of one repository's comps document. `repo` names the repository in results and errors. */
export function parseComps(text: string, repo: string, source = `comps of repository ${repo}`): CompsGroup[] {
  const root = parseXml(text, source);
  if (root.name !== 'comps') throw xmlError(source, root.line, `the root element is <${root.name}>, not <comps>`);
  const groups: CompsGroup[] = [];
  for (const g of root.children.filter((c) => c.name === 'group')) {
    const id = childText(g, 'id') ?? '';
    if (!GROUP_ID.test(id)) throw xmlError(source, g.line, `group id ${JSON.stringify(id)} is not a plain id`);
    if (groups.some((other) => other.id === id)) throw xmlError(source, g.line, `group ${id} is defined twice`);
    const order = childText(g, 'display_order');
    const packages: GroupPackage[] = [];
    for (const list of g.children.filter((c) => c.name === 'packagelist')) {
      for (const req of list.children.filter((c) => c.name === 'packagereq')) {
        const name = req.text.trim();
        const type = (req.attrs.type ?? 'mandatory') as PackageReqType;
        if (!PACKAGE_NAME.test(name))
          throw xmlError(source, req.line, `package ${JSON.stringify(name)} of group ${id} is not a package name`);
        if (!TYPES.includes(type))
          throw xmlError(source, req.line, `package ${name} of group ${id} has type ${JSON.stringify(type)}`);
        const requires = req.attrs.requires;
        if (requires !== undefined && !PACKAGE_NAME.test(requires))
          throw xmlError(source, req.line, `package ${name} of group ${id} requires ${JSON.stringify(requires)}`);
        if (type === 'conditional' && requires === undefined)
          throw xmlError(source, req.line, `conditional package ${name} of group ${id} has no requires=`);
        packages.push({ name, type, ...(type === 'conditional' && requires ? { requires } : {}) });
      }
    }
    groups.push({
      id,
      name: childText(g, 'name') || id,
      description: childText(g, 'description') ?? '',
      uservisible: booleanOf(g, 'uservisible', true, source),
      default: booleanOf(g, 'default', false, source),
      ...(order && /^\d{1,9}$/.test(order) ? { displayOrder: Number(order) } : {}),
      packages,
      repos: [repo],
    });
  }
  return groups;
}

/**
 * The groups of several repositories, in the order given (by priority): a group several define is
 * one group, named by the first, with every package of each (as dnf merges comps).
 */
export function mergeComps(perRepo: readonly (readonly CompsGroup[])[]): CompsGroup[] {
  const byId = new Map<string, CompsGroup>();
  for (const groups of perRepo) {
    for (const g of groups) {
      const seen = byId.get(g.id);
      if (!seen) {
        byId.set(g.id, { ...g, packages: [...g.packages], repos: [...g.repos] });
        continue;
      }
      for (const p of g.packages) if (!seen.packages.some((q) => q.name === p.name)) seen.packages.push(p);
      for (const r of g.repos) if (!seen.repos.includes(r)) seen.repos.push(r);
    }
  }
  return [...byId.values()].sort(
    (a, b) => (a.displayOrder ?? 1024) - (b.displayOrder ?? 1024) || a.name.localeCompare(b.name),
  );
}

/** The groups a pattern names: its id or its name, case-insensitive, with `*` and `?` globs (dnf's). */
export function matchGroups<G extends Pick<CompsGroup, 'id' | 'name'>>(groups: readonly G[], pattern: string): G[] {
  const glob = pattern.toLowerCase();
  return groups.filter((g) => matchesRepoGlob(g.id.toLowerCase(), glob) || matchesRepoGlob(g.name.toLowerCase(), glob));
}

/**
 * The packages `group install` asks for: mandatory and default ones (and optional ones with
 * `withOptional`), and each conditional one whose `requires` is in `present` (installed in the
 * family) or among those.
 */
export function groupInstallNames(
  group: CompsGroup,
  options: { withOptional?: boolean; present?: ReadonlySet<string> } = {},
): string[] {
  const chosen = group.packages
    .filter((p) => p.type === 'mandatory' || p.type === 'default' || (options.withOptional && p.type === 'optional'))
    .map((p) => p.name);
  for (const p of group.packages) {
    if (p.type !== 'conditional' || !p.requires) continue;
    if (options.present?.has(p.requires) || chosen.includes(p.requires)) chosen.push(p.name);
  }
  return [...new Set(chosen)];
}

/**
 * The groups a synced repository publishes ([] when its repomd.xml lists no `group` metadata),
 * read from the cache, where the file was checked against repomd.xml's checksum when fetched.
 */
export function repoGroups(synced: Pick<SyncedRepo, 'repo' | 'solver'>): CompsGroup[] {
  const dir = synced.solver.dir;
  const entry = parseRepomd(readFileSync(join(dir, 'repodata/repomd.xml'), 'utf8')).find((e) => e.type === 'group');
  if (!entry) return [];
  const why = unsafeHref(entry.href);
  if (why)
    throw new RedpakError('package', `repository ${synced.repo.id}: refused group metadata ${entry.href}: it ${why}`);
  const file = join(dir, entry.href);
  if (!existsSync(file))
    throw new RedpakError('package', `repository ${synced.repo.id}: its cached metadata in ${dir} has no group file`, {
      hint: 'the copy was fetched before groups were read: --refresh fetches it again',
    });
  // The cache may sit in a node (the system node's var/cache/dnf): bounded as when it was fetched.
  const limit = entry.size ?? DOWNLOAD_LIMITS.metadataBytes();
  if (statSync(file).size > limit)
    throw new RedpakError(
      'package',
      `repository ${synced.repo.id}: ${file} is larger than the ${limit} bytes allowed`,
      {
        hint: '`redwrap-dnf clean metadata` drops the cached copy',
      },
    );
  return parseComps(
    readFileSync(file, 'utf8'),
    synced.repo.id,
    `${file} (group metadata of repository ${synced.repo.id})`,
  );
}
