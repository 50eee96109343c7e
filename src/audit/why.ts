import { outerDatabases } from '../pkg/family-context.js';
import { RedpakError } from '../errors.js';
import { Sysroot } from '../node/layout.js';
import { loadFamily, loadTree, type TreeNode } from '../node/load.js';
import { recoverInterrupted } from '../pkg/recovery.js';
import { whyCapability, type TreeDb } from '../pkg/solver.js';

export interface WhyPackageRef {
  package: string;
  name: string;
  /** Target path of the node whose database holds it, and its alias (absent for the host database above the root). */
  node: string;
  alias?: string;
}

export interface WhyResult {
  node: string;
  alias: string;
  capability: string;
  /** Providers in the node's view (itself and its ancestors: `inView`), then in its descendants. */
  providers: (WhyPackageRef & { provides: string[]; inView: boolean })[];
  /** Packages of the node, its ancestors and its descendants whose requirements name the capability (or are met by the package of that name). */
  requirers: (WhyPackageRef & { requirement: string; satisfied: boolean; satisfiedBy: WhyPackageRef[] })[];
}

export interface WhyOptions {
  redpath: string;
  capability: string;
  sysroot?: string;
  cwd?: string;
}

export async function why(options: WhyOptions): Promise<WhyResult> {
  const capability = options.capability.trim();
  if (!capability)
    throw new RedpakError('usage', 'the capability is empty', {
      hint: 'give a package name, a capability such as libfoo.so.1()(64bit), or a file path',
    });
  const sysroot = Sysroot.open(options.sysroot);
  const family = loadFamily(options.redpath, { sysroot, cwd: options.cwd });
  const leaf = family.nodes[0];
  const line = [...family.nodes].reverse(); // root-most first
  const nodes: TreeDb[] = line.map((n, i) => ({ node: n.hostPath, ...(i ? { parent: line[i - 1].hostPath } : {}) }));
  const walk = (tree: TreeNode, parent: string) => {
    for (const child of tree.children) {
      const hostPath = sysroot.toHost(child.path);
      nodes.push({ node: hostPath, parent });
      walk(child, hostPath);
    }
  };
  walk(loadTree(leaf.path, { sysroot }), leaf.hostPath);
  const top = line[0];
  const outer = outerDatabases(sysroot, top.path).map((db) => db.root);

  recoverInterrupted(
    nodes.map((n) => n.node),
    top.hostPath,
  );
  const answer = await whyCapability({ nodes, outer, focus: leaf.hostPath, capability });
  if (answer.unreadable.length) {
    throw new RedpakError(
      'tool-failed',
      `cannot read the rpm database of ${answer.unreadable.map((u) => u.node).join(', ')}`,
      { hint: 'redmanager check names every unreadable database' },
    );
  }
  const aliases = new Map<string, string>([...family.nodes.map((n) => [n.hostPath, n.alias] as const)]);
  const descendants = loadTree(leaf.path, { sysroot });
  const note = (t: TreeNode) => {
    aliases.set(sysroot.toHost(t.path), t.alias);
    t.children.forEach(note);
  };
  note(descendants);
  const ref = (p: { package: string; name: string; node: string }): WhyPackageRef => {
    const alias = aliases.get(p.node);
    return { package: p.package, name: p.name, node: sysroot.toTarget(p.node), ...(alias ? { alias } : {}) };
  };
  const result: WhyResult = {
    node: leaf.path,
    alias: leaf.alias,
    capability,
    providers: answer.providers
      .map((p) => ({ ...ref(p), provides: p.provides, inView: p.inView }))
      .sort((a, b) => Number(b.inView) - Number(a.inView)),
    requirers: answer.requirers.map((r) => ({
      ...ref(r),
      requirement: r.requirement,
      satisfied: r.satisfiedBy.length > 0,
      satisfiedBy: r.satisfiedBy.map(ref),
    })),
  };
  if (!result.providers.length && !result.requirers.length) {
    throw new RedpakError(
      'package',
      `nothing in the family of ${leaf.alias} (${leaf.path}) provides or requires ${capability}`,
      {
        hint: `check the spelling; \`redwrap-dnf --redpath ${leaf.path} list --family\` lists the packages the node sees`,
      },
    );
  }
  return result;
}

const nodeName = (p: WhyPackageRef) => (p.alias ? `${p.alias} (${p.node})` : p.node);

export function renderWhy(result: WhyResult): string {
  const lines: string[] = [];
  const inView = result.providers.filter((p) => p.inView);
  const below = result.providers.filter((p) => !p.inView);
  if (inView.length) {
    lines.push(`${result.capability} is provided to ${result.alias} (${result.node}) by:`);
    for (const p of inView)
      lines.push(`  ${p.package} in ${nodeName(p)}${p.provides.length ? `  (provides ${p.provides.join(', ')})` : ''}`);
  } else {
    lines.push(`nothing in ${result.alias} (${result.node}) or its ancestors provides ${result.capability}`);
  }
  if (below.length) {
    lines.push('provided below it by:');
    for (const p of below)
      lines.push(`  ${p.package} in ${nodeName(p)}${p.provides.length ? `  (provides ${p.provides.join(', ')})` : ''}`);
  }
  if (result.requirers.length) {
    lines.push('required by:');
    for (const r of result.requirers) {
      const by = r.satisfied
        ? `satisfied by ${r.satisfiedBy.map((s) => `${s.package} in ${nodeName(s)}`).join(', ')}`
        : 'NOT SATISFIED';
      lines.push(`  ${r.package} in ${nodeName(r)}: requires ${r.requirement}; ${by}`);
    }
  } else {
    lines.push('no package of the family requires it');
  }
  return lines.join('\n');
}
