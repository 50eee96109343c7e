/**
 * A fast reader for the plain block YAML that node files are written in (what `create-node` and the
 * canonical writer produce): mappings of word keys, lists, plain and simply quoted scalars,
 * comments. It gives what config/parse.ts's full parse gives, positions included, or `undefined`
 * for anything else (flow collections, anchors, aliases, tags, escapes, block scalars, tabs,
 * a duplicate key, an unexpected indentation…), and the caller then runs the full parser, which
 * accepts or rejects it with its file:line message. So the reader never accepts a text the full
 * parser refuses, nor reads one differently: test/unit/yaml-scan.test.ts compares both on varied
 * and hostile texts. Node files are written by the node's owner: this matters.
 * Pure (no file access).
 */
import type { SourcePosition } from '../errors.js';

export type Plain = string | Plain[] | { [key: string]: Plain };

export interface Located {
  value: Plain;
  /** Position of each value, by dotted path (`config.hostname`, `exports.0.mode`). */
  valueAt: Map<string, SourcePosition>;
  /** Position of each mapping key, by the dotted path of its value. */
  keyAt: Map<string, SourcePosition>;
}

interface Line {
  /** Column of the first character (0-based). */
  indent: number;
  /** The line from its first character on. */
  text: string;
  /** 1-based line number. */
  line: number;
}

/** Anything outside printable ASCII and the newline (tabs, CR, NUL, a BOM, other scripts): the full parser's business. */
const UNUSUAL_CHARACTER = /[^\n\x20-\x7e]/;
/** A key: a plain word. */
const ENTRY = /^([A-Za-z][A-Za-z0-9_.-]*):(?: +|$)/;
/** A plain scalar: a safe first character, then no `: ` and no ` #` (cut off before) and no indicator YAML reads specially. */
const PLAIN = /^[A-Za-z0-9_./$(+=~^][\x20-\x7e]*$/;
const DOUBLE_QUOTED = /^"([^"\\]*)"(?: +#.*)? *$/;
const SINGLE_QUOTED = /^'([^']*)'(?: +#.*)? *$/;

/** Thrown inside the reader when the text leaves the subset; never escapes `scanLocated`. */
class Unusual extends Error {}
const unusual = (): never => {
  throw new Unusual();
};

/**
 * The text read as parse.ts's `parseLocated` reads it (scalars as text, keys lower-cased, empty
 * values dropped, positions 1-based), or `undefined` when the text is not in the subset this
 * reader knows, or is one the full parser would refuse (a repeated key, nesting beyond `maxDepth`).
 * Without `positions`, the positions are left out (empty maps): what a reader that only checks needs.
 */
export function scanLocated(text: string, file: string, maxDepth: number, positions = true): Located | undefined {
  if (UNUSUAL_CHARACTER.test(text)) return undefined;
  const lines: Line[] = [];
  for (let start = 0, number = 1; start <= text.length; number += 1) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline;
    let first = start;
    while (first < end && text.charCodeAt(first) === 32) first += 1;
    let last = end;
    while (last > first && text.charCodeAt(last - 1) === 32) last -= 1;
    if (first < last && text.charCodeAt(first) !== 35 /* # */)
      lines.push({ indent: first - start, text: text.slice(first, last), line: number });
    start = end + 1;
  }
  if (lines.length === 0) return undefined;
  const valueAt = new Map<string, SourcePosition>();
  const keyAt = new Map<string, SourcePosition>();
  /** Every key's path: a dotted key (`a.b: x`) may repeat another's, which the full parser refuses. */
  const keyPaths = new Set<string>();
  const setValueAt = positions
    ? (path: string, line: Line, offset = 0) => valueAt.set(path, at(line, offset))
    : () => {};
  let next = 0;
  const at = (line: Line, offset = 0): SourcePosition => ({ file, line: line.line, col: line.indent + offset + 1 });
  const join = (path: string, part: string) => (path ? `${path}.${part}` : part);

  const scalar = (line: Line, offset: number, path: string): string => {
    const given = line.text.slice(offset);
    let value: string | undefined;
    const first = given[0];
    if (first === '"' || first === "'") value = (first === '"' ? DOUBLE_QUOTED : SINGLE_QUOTED).exec(given)?.[1];
    else {
      const comment = given.indexOf(' #');
      const plain = (comment < 0 ? given : given.slice(0, comment)).trimEnd();
      if (!PLAIN.test(plain) || plain.includes(': ') || plain.endsWith(':')) unusual();
      value = plain;
    }
    // An empty value is dropped by the full parse, at a position this reader does not compute.
    if (!value) unusual();
    setValueAt(path, line, offset);
    return value as string;
  };

  /** The block starting at lines[next], whose first line is at column `indent`. */
  const block = (indent: number, path: string, depth: number): Plain => {
    if (depth > maxDepth) unusual();
    const first = lines[next];
    if (!first || first.indent !== indent) return unusual();
    return first.text === '-' || first.text.startsWith('- ') ? list(indent, path, depth) : mapping(indent, path, depth);
  };

  const list = (indent: number, path: string, depth: number): Plain[] => {
    const out: Plain[] = [];
    setValueAt(path, lines[next] as Line);
    for (let line = lines[next]; line && line.indent === indent && line.text.startsWith('- '); line = lines[next]) {
      const rest = line.text.slice(2);
      const itemPath = join(path, String(out.length));
      if (rest.startsWith(' ') || rest === '') unusual();
      if (depth + 1 > maxDepth) unusual();
      if (ENTRY.test(rest)) {
        // `- key: value`: a mapping whose first line starts after the dash.
        lines[next] = { indent: indent + 2, text: rest, line: line.line };
        out.push(mapping(indent + 2, itemPath, depth + 1));
      } else {
        out.push(scalar(line, 2, itemPath));
        next += 1;
      }
    }
    return out;
  };

  const mapping = (indent: number, path: string, depth: number): { [key: string]: Plain } => {
    const out: { [key: string]: Plain } = {};
    setValueAt(path, lines[next] as Line);
    for (let line = lines[next]; line && line.indent >= indent; line = lines[next]) {
      if (line.indent > indent) unusual();
      const entry = ENTRY.exec(line.text);
      if (!entry) return unusual();
      const key = (entry[1] as string).toLowerCase();
      const childPath = join(path, key);
      if (key in out || keyPaths.has(childPath)) unusual();
      keyPaths.add(childPath);
      if (positions) keyAt.set(childPath, at(line));
      next += 1;
      if (entry[0].length < line.text.length) {
        if (depth + 1 > maxDepth) unusual();
        out[key] = scalar(line, entry[0].length, childPath);
        continue;
      }
      // `key:` alone: a block below it, more indented, or a list at the same column.
      const below = lines[next];
      if (!below) return unusual();
      const isList = below.text === '-' || below.text.startsWith('- ');
      if (!(below.indent > indent || (below.indent === indent && isList))) unusual();
      out[key] = block(below.indent, childPath, depth + 1);
    }
    return out;
  };

  try {
    const value = block(lines[0]?.indent ?? 0, '', 0);
    if (next < lines.length) return undefined;
    return { value, valueAt, keyAt };
  } catch (error) {
    if (error instanceof Unusual) return undefined;
    throw error;
  }
}
