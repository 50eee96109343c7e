import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { importCycles, layerViolations, parseLayerOrder, readImportGraph, type ImportEdge } from '../helpers/layers.js';

const order = parseLayerOrder(readFileSync(join(PACKAGE_ROOT, 'docs/architecture.md'), 'utf8'));

describe('the layers of src/ (docs/architecture.md)', () => {
  test('the order lists every folder, bottom first, with the API above the library and the CLI on top', () => {
    assert.deepEqual(order[0], ['errors.ts', 'package-root.ts', 'present.ts', 'closest-word.ts']);
    assert.deepEqual(order.at(-1), ['commands']);
    const flat = order.flat();
    assert.ok(flat.indexOf('index.ts') > flat.indexOf('audit') && flat.indexOf('index.ts') < flat.indexOf('cli'));
  });

  test('every import of src/ and commands/ obeys the order, and no file imports itself back', () => {
    const { files, edges } = readImportGraph(PACKAGE_ROOT);
    assert.ok(files.length > 100 && edges.length > 300, `read ${files.length} files and ${edges.length} imports`);
    assert.deepEqual(layerViolations(order, edges, files), []);
  });

  test('the library never prints: only src/cli and commands/ write to the terminal', () => {
    const { files } = readImportGraph(PACKAGE_ROOT);
    const library = files.filter((f) => f.startsWith('src/') && !f.startsWith('src/cli/'));
    assert.ok(library.length > 80, `read ${library.length} library files`);
    const printing = library.filter((f) =>
      /\bconsole\.|process\.(stdout|stderr)\.write/.test(readFileSync(join(PACKAGE_ROOT, f), 'utf8')),
    );
    assert.deepEqual(printing, []);
  });
});

const relativeEdge = (from: string, to: string): ImportEdge => ({ from, to, relative: true });
const packageEdge = (from: string, to: string): ImportEdge => ({ from, to, relative: false });
const SMALL_ORDER = [['errors.ts'], ['config'], ['inspect', 'wrap'], ['cli'], ['commands']];
const SMALL_FILES = [
  'src/errors.ts',
  'src/config/a.ts',
  'src/inspect/v.ts',
  'src/wrap/w.ts',
  'src/cli/c.ts',
  'commands/x/y.ts',
];
const LAWFUL: ImportEdge[] = [
  relativeEdge('src/config/a.ts', 'src/errors.ts'),
  relativeEdge('src/wrap/w.ts', 'src/config/a.ts'),
  relativeEdge('src/cli/c.ts', 'src/wrap/w.ts'),
  packageEdge('src/cli/c.ts', '@oclif/core'),
  packageEdge('src/cli/c.ts', 'listr2'),
  packageEdge('src/wrap/w.ts', 'yaml'),
  relativeEdge('commands/x/y.ts', 'src/cli/c.ts'),
];

describe('the layer checker, on small graphs', () => {
  test('a graph that obeys the order passes', () => {
    assert.deepEqual(layerViolations(SMALL_ORDER, LAWFUL, SMALL_FILES), []);
  });

  test('an upward import fails', () => {
    const upward = relativeEdge('src/config/a.ts', 'src/inspect/v.ts');
    const problems = layerViolations(SMALL_ORDER, [...LAWFUL, upward], SMALL_FILES);
    assert.deepEqual(problems, ['src/config/a.ts → src/inspect/v.ts: config imports inspect, a layer above it']);
  });

  test('an import between peers fails', () => {
    const sideways = relativeEdge('src/wrap/w.ts', 'src/inspect/v.ts');
    const problems = layerViolations(SMALL_ORDER, [...LAWFUL, sideways], SMALL_FILES);
    assert.deepEqual(problems, ['src/wrap/w.ts → src/inspect/v.ts: wrap imports its peer inspect']);
  });

  test('a folder or top-level file missing from the order fails', () => {
    const problems = layerViolations(SMALL_ORDER, LAWFUL, [...SMALL_FILES, 'src/extra/e.ts', 'src/loose.ts']);
    assert.deepEqual(problems, [
      'src/extra/e.ts: extra is not in the layer order',
      'src/loose.ts: loose.ts is not in the layer order',
    ]);
  });

  test('a file-level import cycle fails, inside one folder too, and a self-import', () => {
    const cycle = [
      relativeEdge('src/wrap/w.ts', 'src/wrap/x.ts'),
      relativeEdge('src/wrap/x.ts', 'src/wrap/y.ts'),
      relativeEdge('src/wrap/y.ts', 'src/wrap/w.ts'),
    ];
    assert.deepEqual(layerViolations(SMALL_ORDER, [...LAWFUL, ...cycle], SMALL_FILES), [
      'import cycle: src/wrap/w.ts → src/wrap/x.ts → src/wrap/y.ts',
    ]);
    assert.deepEqual(importCycles([relativeEdge('src/config/a.ts', 'src/config/a.ts')]), [['src/config/a.ts']]);
    assert.deepEqual(importCycles(LAWFUL), []);
  });

  test('the library importing a command-line package, src/cli or commands/ fails; src/cli may', () => {
    const edges = [
      ...LAWFUL,
      packageEdge('src/wrap/w.ts', '@oclif/core'),
      packageEdge('src/config/a.ts', 'listr2/dist/index.js'),
      relativeEdge('src/inspect/v.ts', 'src/cli/c.ts'),
    ];
    assert.deepEqual(layerViolations(SMALL_ORDER, edges, SMALL_FILES), [
      'src/wrap/w.ts: the library imports @oclif/core',
      'src/config/a.ts: the library imports listr2',
      'src/inspect/v.ts: the library imports src/cli/c.ts',
      'src/inspect/v.ts → src/cli/c.ts: inspect imports cli, a layer above it',
    ]);
  });
});

describe('the layer checker, on a copy of the tree with bad imports planted', () => {
  const root = mkdtempSync(join(tmpdir(), 'redpak-layers-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  for (const dir of ['src', 'commands']) cpSync(join(PACKAGE_ROOT, dir), join(root, dir), { recursive: true });
  const plant = (file: string, line: string) => {
    writeFileSync(join(root, file), `${line}\n${readFileSync(join(root, file), 'utf8')}`);
  };
  plant('src/config/types.ts', "import type { CompiledLaunch } from '../wrap/launch.js';");
  plant('src/wrap/plan.ts', "export { FAST_PLAN_VERSION } from './fast-plan.js';");
  plant('src/merge/merge.ts', "const cli = () => import('@oclif/core');");
  plant('src/node/load.ts', "import '../cli/run.js';");

  test('each planted import is found', () => {
    const { files, edges } = readImportGraph(root);
    const problems = layerViolations(order, edges, files);
    const found = (problem: string) => {
      assert.ok(problems.includes(problem), `${problem}\nnot in:\n${problems.join('\n')}`);
    };
    found('src/config/types.ts → src/wrap/launch.ts: config imports wrap, a layer above it');
    const cycle = problems.find((p) => p.startsWith('import cycle:') && p.includes('src/wrap/plan.ts'));
    assert.ok(cycle?.includes('src/wrap/fast-plan.ts'), problems.join('\n'));
    found('src/merge/merge.ts: the library imports @oclif/core');
    found('src/node/load.ts: the library imports src/cli/run.ts');
  });
});
