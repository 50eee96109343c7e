/**
 * The embedded default demo: a small family built from the shipped templates, shown the way a
 * user inspects one. It is what `redmanager demo` (and the README's first command) runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HostFacts } from './config/expand.js';
import { mergeFamily } from './merge/merge.js';
import { mergedConfigYaml } from './inspect/mergeconfig.js';
import { renderTree } from './inspect/tree.js';
import { createNode } from './node/factory.js';
import { assertEnabled, loadFamily, loadTree } from './node/load.js';

export interface DemoStep {
  title: string;
  command: string;
  output: string;
}

export interface DemoResult {
  dir: string;
  nodes: { path: string; alias: string }[];
  steps: DemoStep[];
}

export function runDemo(options: { dir?: string; host: HostFacts; bin?: string }): DemoResult {
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), 'redpak-demo-')));
  const bin = options.bin ?? 'redmanager';
  const system = join(dir, 'redpak');
  const platform = join(system, 'platform');
  const app = join(platform, 'app');
  const steps: DemoStep[] = [];

  const created = [
    ...createNode({ redpath: platform, host: options.host }),
    ...createNode({ redpath: app, host: options.host }),
  ];
  steps.push({
    title: 'Create the family: system (host view) → platform → app',
    command: `${bin} create-node --redpath ${platform} && ${bin} create-node --redpath ${app}`,
    output: created.map((n) => `${n.action} node ${n.alias} at ${n.path}`).join('\n'),
  });

  steps.push({ title: 'The family tree', command: `${bin} tree --redroot ${system}`, output: renderTree(loadTree(system)) });

  const family = loadFamily(app);
  assertEnabled(family);
  const merged = mergeFamily(family, { host: options.host });
  steps.push({
    title: 'What app gets from its family, and from where',
    command: `${bin} mergeconfig --redpath ${app}`,
    output: mergedConfigYaml(family, merged, { expand: false, host: options.host }),
  });

  return { dir, nodes: created.map((n) => ({ path: n.path, alias: n.alias })), steps };
}
