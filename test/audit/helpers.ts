/** Families for the audit tests: real nodes (node factory) with real rpm databases filled from the fixture repository. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installPackages } from '../../src/pkg/rpm.js';
import { rpmFile } from '../pkg/helpers/family.js';
import { makeNodeFamily, type NodeFamily } from '../pkg/helpers/nodes.js';

/** Install fixture packages straight with rpm (no family rules): how a broken image is made. */
export async function put(node: string, ...prefixes: string[]): Promise<void> {
  await installPackages(node, await Promise.all(prefixes.map(rpmFile)), { noscripts: true });
}

/** system → platform (libredfoo 1.0, redfoo-conf) → app (redhello, redpinned): coherent. */
export async function coherentFamily(): Promise<NodeFamily> {
  const f = await makeNodeFamily();
  await put(f.platform, 'libredfoo-1.0', 'redfoo-conf');
  await put(f.app, 'redhello', 'redpinned');
  return f;
}

/** Edit a node's normal config: `replace` pairs, then `configLines` inserted at the top of `config:`. */
export function editConfig(
  node: string,
  options: { replace?: [RegExp, string][]; configLines?: string[]; admin?: boolean },
): string {
  const file = join(node, options.admin ? 'etc/redpak-admin.yaml' : 'etc/redpak.yaml');
  let text = readFileSync(file, 'utf8');
  for (const [from, to] of options.replace ?? []) text = text.replace(from, to);
  if (options.configLines)
    text = text.replace(/^config:\n/m, `config:\n${options.configLines.map((l) => `  ${l}\n`).join('')}`);
  writeFileSync(file, text);
  return file;
}

/** Line (1-based) of the first line of a file matching. */
export function lineOf(file: string, match: RegExp): number {
  return (
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => match.test(l)) + 1
  );
}
