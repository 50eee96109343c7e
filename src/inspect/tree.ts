/** Text view of a family tree, drawn as redpak's `redconf tree` draws it. */
import { basename, dirname } from 'node:path';
import type { TreeNode } from '../node/load.js';

export function renderTree(tree: TreeNode): string {
  const lines = [dirname(tree.path)];
  const label = (node: TreeNode) =>
    `${basename(node.path)}  (${node.alias})${node.state === 'Enable' ? '' : ` [${node.state}]`}`;
  const walk = (node: TreeNode, prefix: string, last: boolean) => {
    lines.push(`${prefix}${last ? '└── ' : '├── '}${label(node)}`);
    const childPrefix = prefix + (last ? '    ' : '│   ');
    node.children.forEach((child, i) => {
      walk(child, childPrefix, i === node.children.length - 1);
    });
  };
  walk(tree, '  ', true);
  return lines.join('\n');
}
