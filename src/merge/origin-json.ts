/**
 * Where a merged value comes from, as the `--json` documents show it (docs/json-output.md): the
 * node, its alias, which of its configs, and the position in that file. Shared by the
 * mergeconfig view, the launch dump and `explain`.
 */
import type { Origin } from './types.js';

export interface OriginJson {
  node: string;
  alias: string;
  kind: 'normal' | 'admin';
  file: string;
  line: number;
  col: number;
}

export function originJson(origin: Origin): OriginJson {
  const { node, alias, kind, at } = origin;
  return { node, alias, kind, file: at.file, line: at.line, col: at.col };
}
