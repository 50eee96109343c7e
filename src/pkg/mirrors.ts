/**
 * Mirror lists of a repository, as dnf reads them (pure): a mirrorlist is one baseurl a line (`#`
 * comments); a metalink is XML naming mirrors of `repodata/repomd.xml` and its checksums, which
 * the repomd.xml fetched from any of them must match. A mirrorlist whose text is a metalink is
 * read as one, as dnf does.
 *
 * Both come from the network or a file and are untrusted: a list fetched over http(s) may not
 * name file:// mirrors (a remote server would otherwise choose which files of this machine are
 * read as a repository: the metalink supplies both the mirror and the checksum to match), only
 * http(s) and file URLs are kept, and an XML construct a regular expression could read
 * differently from an XML parser (DOCTYPE, ENTITY, CDATA, comments) is refused.
 */
import { RedpakError } from '../errors.js';
import { controlCharacter, isRepoUrl } from './repofile.js';

/** A checksum of repomd.xml a metalink carries. */
export interface RepomdHash {
  type: string;
  value: string;
}

export interface MirrorSet {
  /** Baseurls of the repository, in the list's order (metalink: by preference, highest first). */
  baseurls: string[];
  /** Checksums repomd.xml must match (metalink only); one of the strongest type is enough. */
  repomdHashes: RepomdHash[];
  /** Mirrors left out, each with why. */
  dropped: { url: string; why: string }[];
}

function refuse(source: string, why: string): never {
  throw new RedpakError('package', `refused the mirror list ${source}: ${why}`, {
    hint: 'the list is broken or hostile; nothing was fetched from it',
  });
}

/** Whether the text of a mirrorlist is in fact a metalink (XML holding a <metalink> element). */
function isMetalink(text: string): boolean {
  return text.trimStart().startsWith('<') && /<metalink\b/.test(text);
}

/**
 * The mirrors of a mirrorlist or metalink fetched from `source`. `remote`: the list came over
 * http(s), so file:// mirrors are dropped.
 */
export function parseMirrors(text: string, source: string, remote: boolean): MirrorSet {
  const set = isMetalink(text) ? parseMetalink(text, source) : parseMirrorlist(text, source);
  const baseurls: string[] = [];
  const dropped = [...set.dropped];
  for (const url of set.baseurls) {
    if (remote && url.startsWith('file://'))
      dropped.push({ url, why: 'a list fetched over the network may not name files of this machine' });
    else baseurls.push(url);
  }
  return { ...set, baseurls, dropped };
}

function keep(url: string, source: string, set: MirrorSet): void {
  const bad = controlCharacter(url);
  if (bad) refuse(source, `a mirror holds a control character (${bad})`);
  if (isRepoUrl(url)) set.baseurls.push(url);
  else set.dropped.push({ url, why: 'not a file://, http:// or https:// URL' });
}

function parseMirrorlist(text: string, source: string): MirrorSet {
  const set: MirrorSet = { baseurls: [], repomdHashes: [], dropped: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    keep(line, source, set);
  }
  return set;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlText(value: string): string {
  return value.replace(/&(\w+);/g, (whole, name: string) => XML_ENTITIES[name] ?? whole).trim();
}

const REPOMD_TAIL = 'repodata/repomd.xml';

function parseMetalink(xml: string, source: string): MirrorSet {
  const odd = /<!DOCTYPE|<!ENTITY|<!--|<!\[CDATA\[|&#/i.exec(xml);
  if (odd) refuse(source, `it holds ${JSON.stringify(odd[0])}`);
  const files = [...xml.matchAll(/<file\s+name="repomd\.xml"\s*>([\s\S]*?)<\/file>/g)];
  if (files.length !== 1) refuse(source, `it describes repomd.xml ${files.length} times (expected once)`);
  const body = files[0][1].replace(/<(mm0:)?alternates>[\s\S]*?<\/(mm0:)?alternates>/g, '');
  const set: MirrorSet = { baseurls: [], repomdHashes: [], dropped: [] };
  for (const hash of body.matchAll(/<hash\s+type="([\w-]+)"\s*>\s*([0-9a-fA-F]+)\s*<\/hash>/g))
    set.repomdHashes.push({ type: hash[1].toLowerCase(), value: hash[2].toLowerCase() });
  if (set.repomdHashes.length === 0) refuse(source, 'it carries no checksum of repomd.xml');
  const urls = [...body.matchAll(/<url\b([^>]*)>([^<]*)<\/url>/g)].map((m) => ({
    url: xmlText(m[2]),
    preference: Number(/\bpreference="(\d+)"/.exec(m[1])?.[1] ?? 0),
  }));
  // Highest preference first; the list's order among equals.
  urls.sort((a, b) => b.preference - a.preference);
  for (const { url } of urls) {
    if (!url.endsWith(REPOMD_TAIL)) {
      set.dropped.push({ url, why: `does not end with ${REPOMD_TAIL}` });
      continue;
    }
    keep(url.slice(0, -REPOMD_TAIL.length), source, set);
  }
  return set;
}

/** The checksum algorithms Node knows, strongest first, under the names metalinks use. */
const STRENGTH = ['sha512', 'sha384', 'sha256', 'sha224', 'sha1', 'md5'];

/** The hashes of the strongest type a metalink gave (repomd.xml must match one of them). */
export function strongestHashes(hashes: readonly RepomdHash[]): RepomdHash[] {
  const type = STRENGTH.find((t) => hashes.some((h) => h.type === t));
  return type ? hashes.filter((h) => h.type === type) : [];
}
