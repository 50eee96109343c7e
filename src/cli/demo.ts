/**
 * The embedded default demo, what the README's first command runs: a repository built from the
 * fixture specs, a family system → platform → app, a shared library installed once in platform,
 * an application needing it installed in app, the family's package view, and the application
 * run in its node through redwrap, using the library its parent provides.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { HostFacts } from '../config/expand.js';
import { RedpakError } from '../errors.js';
import { mergeFamily } from '../merge/merge.js';
import { mergedConfigYaml } from '../inspect/mergeconfig.js';
import { renderTree } from '../inspect/tree.js';
import { assertEnabled, loadFamily, loadTree } from '../node/load.js';
import { NORMAL_CONFIG, REPOS_DIR } from '../node/layout.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { buildFixtureRepo } from '../pkg/fixture-repo.js';
import { install, list } from '../pkg/manager.js';
import { acceptUnsignedPackages, createPackageNode } from '../pkg/node-setup.js';

export interface DemoStep {
  title: string;
  /** The command that does the same by hand. */
  command: string;
  output: string;
}

export interface DemoResult {
  dir: string;
  nodes: { path: string; alias: string }[];
  steps: DemoStep[];
}

export async function runDemo(options: {
  dir?: string;
  host: HostFacts;
  onStep?: (step: DemoStep) => void;
}): Promise<DemoResult> {
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), 'redpak-demo-')));
  const system = join(dir, 'redpak');
  const platform = join(system, 'platform');
  const app = join(platform, 'app');
  const steps: DemoStep[] = [];
  const step = (s: DemoStep) => {
    steps.push(s);
    options.onStep?.(s);
  };
  const host = options.host;

  const repo = await buildFixtureRepo();
  step({
    title: 'A package repository, built from the spec files in fixtures/ (rpmbuild, createrepo_c)',
    command: 'rpmbuild -bb fixtures/specs/*.spec && createrepo_c REPO',
    output: `${repo.repoDir}: ${Object.keys(repo.rpms)
      .filter((f) => !f.startsWith('redsigned'))
      .sort()
      .join(' ')}`,
  });

  const created = [
    ...(await createPackageNode({ redpath: platform, host })).nodes,
    ...(await createPackageNode({ redpath: app, host })).nodes,
  ];
  // The family's repositories live in the system node; platform and app inherit them.
  const repoFile = join(system, REPOS_DIR, 'demo.repo');
  mkdirSync(dirname(repoFile), { recursive: true });
  writeFileSync(repoFile, `[demo]\nname=redpak demo packages\nbaseurl=file://${repo.repoDir}\nenabled=1\ngpgcheck=0\n`);
  // The demo packages are unsigned: the family says so in its own config (the system template's
  // gpgcheck: true is a floor no .repo file lowers).
  const systemConfig = join(system, NORMAL_CONFIG);
  acceptUnsignedPackages(systemConfig);
  step({
    title: 'The family: system (the host view) → platform → app, each with its own rpm database',
    command: `redmanager create-node --redpath ${platform} && redmanager create-node --redpath ${app}`,
    output: [
      ...created.map((n) => `${n.action} node ${n.alias} at ${n.path}`),
      `repository file ${repoFile}`,
      `gpgcheck: false in ${systemConfig} (the demo packages are unsigned)`,
    ].join('\n'),
  });

  const transaction = async (node: string, specs: string[]) => {
    const result = await install({ redpath: node, specs, host });
    return result.packages.map((p) => `${p.action} ${p.nevra} (${p.repo})`).join('\n') || 'nothing to do';
  };
  step({
    title: 'The shared library, installed once, in platform',
    command: `redwrap-dnf --redpath ${platform} install -y libredfoo redfoo-conf`,
    output: await transaction(platform, ['libredfoo', 'redfoo-conf']),
  });
  step({
    title: 'The application, in app: its library comes from platform, its shell from the host',
    command: `redwrap-dnf --redpath ${app} install -y redhello`,
    output: await transaction(app, ['redhello']),
  });

  const aliasOf = new Map(loadFamily(app).nodes.map((n) => [n.hostPath, n.alias]));
  const view = await list({ redpath: app, scope: 'family', host });
  step({
    title: "What app sees: its packages and its ancestors', each with the node that owns it",
    command: `redwrap-dnf --redpath ${app} list --family`,
    output: view
      .filter((p) => p.name !== 'redpak-host-provides')
      .map((p) => `${p.nevra.padEnd(36)} ${aliasOf.get(p.node ?? '') ?? basename(p.node ?? '')}`)
      .join('\n'),
  });

  step({
    title: 'The family tree',
    command: `redmanager tree --redroot ${system}`,
    output: renderTree(loadTree(system)),
  });

  const family = loadFamily(app);
  assertEnabled(family);
  step({
    title: 'The sandbox configuration app gets from its family, and from where',
    command: `redmanager mergeconfig --redpath ${app}`,
    output: mergedConfigYaml(family, mergeFamily(family, { host }), { expand: false, host }),
  });

  const run = spawnSync(join(PACKAGE_ROOT, 'bin/redwrap'), ['--redpath', app, '--', 'redhello'], { encoding: 'utf8' });
  if (run.status !== 0)
    throw new RedpakError('launch', `redhello failed in ${app} (exit ${run.status}): ${run.stderr.trim()}`);
  step({
    title: 'The application, run in its node',
    command: `redwrap --redpath ${app} -- redhello`,
    output: run.stdout.trimEnd(),
  });

  return { dir, nodes: created.map((n) => ({ path: n.path, alias: n.alias })), steps };
}
