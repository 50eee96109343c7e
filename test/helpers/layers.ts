/**
 * The layer rules of docs/architecture.md ("Layers"), checked on an import graph. Pure: the graph
 * is read from the source tree by `readImportGraph`, and the checks are tested on small synthetic
 * graphs (test/unit/layers.test.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Layers bottom → top; the units of one layer are peers and must not import each other. */
export type LayerOrder = string[][];

/** One import: from a file (repository-relative path) to a file or to a package name. */
export interface ImportEdge {
  from: string;
  /** A repository-relative path for a relative import, else the package name as written. */
  to: string;
  relative: boolean;
}

/** Packages only the command line may use. */
export const CLI_ONLY_PACKAGES = ['@oclif/core', 'listr2'];

/** The fenced ```layers block of a markdown text (one layer per line, top first, `#` comments), bottom first. */
export function parseLayerOrder(markdown: string): LayerOrder {
  const block = /^```layers\n([\s\S]*?)^```/m.exec(markdown);
  if (!block) throw new Error('no ```layers block');
  return block[1]
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/))
    .reverse();
}

/** The unit a repository-relative path belongs to: a folder of src/, a top-level file of src/, or `commands`. */
export function unitOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] === 'commands') return 'commands';
  if (parts[0] !== 'src') return undefined;
  return parts[1];
}

const isLibrary = (path: string) => path.startsWith('src/') && unitOf(path) !== 'cli';

/** Every rule of the layer order broken by the edges, one message each. */
export function layerViolations(order: LayerOrder, edges: readonly ImportEdge[], files: readonly string[]): string[] {
  const rank = new Map<string, number>();
  for (const [index, layer] of order.entries()) for (const unit of layer) rank.set(unit, index);
  const problems = new Set<string>();
  for (const file of files) {
    const unit = unitOf(file);
    if (unit !== undefined && !rank.has(unit)) problems.add(`${file}: ${unit} is not in the layer order`);
  }
  for (const edge of edges) {
    if (!edge.relative) {
      const banned = CLI_ONLY_PACKAGES.find((name) => edge.to === name || edge.to.startsWith(`${name}/`));
      if (banned && isLibrary(edge.from)) problems.add(`${edge.from}: the library imports ${banned}`);
      continue;
    }
    const from = unitOf(edge.from);
    const to = unitOf(edge.to);
    if (from === undefined || to === undefined || from === to) continue;
    if (isLibrary(edge.from) && (to === 'cli' || to === 'commands')) {
      problems.add(`${edge.from}: the library imports ${edge.to}`);
    }
    const fromRank = rank.get(from);
    const toRank = rank.get(to);
    if (fromRank === undefined || toRank === undefined) continue;
    if (toRank > fromRank) problems.add(`${edge.from} → ${edge.to}: ${from} imports ${to}, a layer above it`);
    else if (toRank === fromRank) problems.add(`${edge.from} → ${edge.to}: ${from} imports its peer ${to}`);
  }
  for (const cycle of importCycles(edges)) problems.add(`import cycle: ${cycle.join(' → ')}`);
  return [...problems];
}

/** The file-level import cycles (strongly connected components of more than one file, or a self-import). */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const edge of edges) if (edge.relative) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  // Tarjan's algorithm, iterative so that a long chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const root of next.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; children: string[] }[] = [];
    const enter = (node: string) => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, children: [...(next.get(node) ?? [])] });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const child = frame.children.shift();
      if (child !== undefined) {
        if (!index.has(child)) enter(child);
        else if (onStack.has(child)) low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(child) ?? 0));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
        onStack.delete(member);
        component.push(member);
        if (member === frame.node) break;
      }
      const selfImport = next.get(frame.node)?.includes(frame.node) ?? false;
      if (component.length > 1 || selfImport) cycles.push(component.sort());
    }
  }
  return cycles;
}

const SOURCE = /\.(ts|cts|mts)$/;

function sourceFiles(root: string, dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true })
    .map(String)
    .filter((name) => SOURCE.test(name) && !name.endsWith('.d.ts'))
    .map((name) => join(dir, name))
    .sort();
}

/** `./x.js` written in `from` → the repository-relative source file it names. */
function resolveRelative(root: string, from: string, specifier: string): string {
  const target = relative(root, resolve(root, dirname(from), specifier));
  const source = target
    .replace(/\.js$/, '.ts')
    .replace(/\.cjs$/, '.cts')
    .replace(/\.mjs$/, '.mts');
  return existsSync(join(root, source)) ? source : target;
}

/** The imports (static, dynamic, `export … from`, `require`) of src/ and commands/ under `root`. */
export function readImportGraph(root: string): { files: string[]; edges: ImportEdge[] } {
  const files = [...sourceFiles(root, 'src'), ...sourceFiles(root, 'commands')];
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('node:')) continue;
      const isRelative = fileName.startsWith('.');
      const to = isRelative ? resolveRelative(root, file, fileName) : fileName;
      edges.push({ from: file, to, relative: isRelative });
    }
  }
  return { files, edges };
}
