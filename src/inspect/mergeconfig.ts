/**
 * Views of a merged configuration: the `--json` document (shape documented in
 * docs/json-output.md) and a redpak-shaped YAML document whose comments carry the provenance of
 * every entry and every override (the `info:`/`warn:` annotations redpak documents).
 */
import type { YAMLMap } from 'yaml';
import { expand, type HostFacts } from '../config/expand.js';
import { yamlLibrary } from '../config/yaml-library.js';
import { formatLine } from '../errors.js';
import { describeOrigin, nodeFacts } from '../merge/merge.js';
import { originJson, type OriginJson } from '../merge/origin-json.js';
import type { Merged, MergedConfig, Origin, Override } from '../merge/types.js';
import type { Family } from '../node/types.js';
import { present } from '../present.js';

function overridesJson(overrides: Override[]): { from: OriginJson; value: unknown; reason: string }[] {
  return overrides.map((o) => ({ from: originJson(o.origin), value: stripPosition(o.value), reason: o.reason }));
}

/** Drops the source position kept on list entries: it is already in `from`. */
function stripPosition(value: unknown): unknown {
  if (value && typeof value === 'object' && 'at' in value) {
    const { at: _at, ...rest } = value as Record<string, unknown>;
    return rest;
  }
  return value;
}

function mergedJson<T>(merged: Merged<T>): {
  value: unknown;
  from: OriginJson;
  overrides: ReturnType<typeof overridesJson>;
} {
  return { value: merged.value, from: originJson(merged.origin), overrides: overridesJson(merged.overrides) };
}

export interface MergeViewOptions {
  /** Expand exports' mounts and paths and environ values (as the launch would). */
  expand: boolean;
  host: HostFacts;
}

type Expanders = { exportPath: (i: number) => string | undefined; environValue: (i: number) => string | undefined };

function expanders(family: Family, merged: MergedConfig, options: MergeViewOptions): Expanders {
  const leaf = nodeFacts(family.nodes[0]);
  const ctx = (origin: Origin) => ({
    host: options.host,
    node: nodeFacts(family.nodes[origin.depth]),
    leaf,
    commands: true,
  });
  return {
    exportPath: (i) => {
      const e = merged.exports[i];
      if (e.value.mode === 'Execfd') return e.value.path;
      const written =
        e.value.path ?? (e.value.mode === 'Anonymous' || e.value.mode === 'Tmpfs' ? undefined : e.value.mount);
      return written === undefined ? undefined : expand(written, ctx(e.origin));
    },
    environValue: (i) => {
      const e = merged.environ[i];
      return e.value.mode === 'Default' && e.value.value !== undefined
        ? expand(e.value.value, ctx(e.origin))
        : e.value.value;
    },
  };
}

export function mergedConfigJson(family: Family, merged: MergedConfig, options: MergeViewOptions) {
  const x = expanders(family, merged, options);
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(merged.scalars)) config[key] = mergedJson(value as Merged<unknown>);
  for (const key of ['path', 'ldpath'] as const) {
    const list = merged[key];
    if (list)
      config[key] = {
        value: list.value,
        from: list.contributions.map((c) => ({ ...originJson(c.origin), written: c.written, expanded: c.expanded })),
      };
  }
  config.shares = Object.fromEntries(
    Object.entries(merged.shares).map(([key, share]) => [
      key,
      {
        value: share.type === 'join' ? share.path : share.type,
        ...(share.origin ? { from: originJson(share.origin) } : {}),
        ...(share.fromShareAll ? { fromShareAll: true } : {}),
        overrides: overridesJson(share.overrides),
      },
    ]),
  );
  config.capabilities = merged.capabilities.map((c) => ({
    ...(stripPosition(c.value) as object),
    from: originJson(c.origin),
    overrides: overridesJson(c.overrides),
  }));
  config.cgroups = merged.cgroups.map((c) => ({
    node: c.node,
    alias: c.alias,
    settings: c.settings,
    from: c.origins.map(originJson),
  }));
  config.seccomp = merged.seccomp.map((s) => ({
    node: s.node,
    alias: s.alias,
    kind: s.kind,
    filter: s.filter,
    from: originJson(s.origin),
  }));
  return {
    leaf: merged.leaf,
    admin: merged.admin,
    expanded: options.expand,
    family: merged.family,
    headers: merged.headers,
    config,
    exports: merged.exports.map((e, i) => {
      const entry = stripPosition(e.value) as Record<string, unknown>;
      const shown = options.expand
        ? { ...entry, mount: e.mount, ...(x.exportPath(i) !== undefined ? { path: x.exportPath(i) } : {}) }
        : entry;
      return { ...shown, from: originJson(e.origin), overrides: overridesJson(e.overrides) };
    }),
    environ: merged.environ.map((e, i) => {
      const entry = stripPosition(e.value) as Record<string, unknown>;
      const shown = options.expand && x.environValue(i) !== undefined ? { ...entry, value: x.environValue(i) } : entry;
      return { ...shown, from: originJson(e.origin), overrides: overridesJson(e.overrides) };
    }),
    warnings: merged.warnings.map((w) => ({
      message: w.message,
      from: originJson(w.origin),
      ...(w.overrides ? { overrides: originJson(w.overrides) } : {}),
    })),
  };
}

function where(origin: Origin): string {
  return `${describeOrigin(origin)} ${formatLine(origin.at)}`;
}

function provenanceComment(origin: Origin, overrides: Override[]): string {
  const lines = [` info: from ${where(origin)}`];
  for (const o of overrides)
    lines.push(` warn: ${o.reason === 'replaced' ? 'replaces' : 'overrides'} ${where(o.origin)}`);
  return lines.join('\n');
}

/**
 * The merged configuration as a redpak config document (headers, exports, environ, config),
 * each entry preceded by comments naming where it comes from and what it overrides.
 */
export function mergedConfigYaml(family: Family, merged: MergedConfig, options: MergeViewOptions): string {
  const json = mergedConfigJson(family, merged, options);
  const plain = (entry: Record<string, unknown>) => {
    const { from: _from, overrides: _overrides, ...rest } = entry;
    return rest;
  };
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(merged.scalars)) config[key] = (value as Merged<unknown>).value;
  if (merged.path) config.path = merged.path.value;
  if (merged.ldpath) config.ldpath = merged.ldpath.value;
  for (const [key, share] of Object.entries(merged.shares)) {
    if (share.origin && !share.fromShareAll) config[`share_${key}`] = share.type === 'join' ? share.path : share.type;
  }
  const { Document, isMap, isSeq } = yamlLibrary();
  const doc = new Document({
    headers: merged.headers,
    ...(json.exports.length ? { exports: json.exports.map(plain) } : {}),
    ...(json.environ.length ? { environ: json.environ.map(plain) } : {}),
    config: {
      ...config,
      ...(merged.capabilities.length
        ? { capabilities: merged.capabilities.map((c) => plain(stripPosition(c.value) as Record<string, unknown>)) }
        : {}),
    },
  });
  doc.commentBefore = ` merged config of ${merged.leaf.alias} (${merged.leaf.path})${merged.admin ? ', admin mode' : ''}; family: ${merged.family.map((n) => n.alias).join(' <- ')}`;

  const annotateList = (key: string, items: Merged<unknown>[]) => {
    const seq = doc.get(key, true);
    if (!isSeq(seq)) return;
    seq.items.forEach((item, i) => {
      (item as YAMLMap).commentBefore = provenanceComment(items[i].origin, items[i].overrides);
    });
  };
  annotateList('exports', merged.exports);
  annotateList('environ', merged.environ);
  const configNode = doc.get('config', true);
  if (isMap(configNode)) {
    for (const pair of configNode.items) {
      const key = String((pair.key as { value: unknown }).value);
      const scalar = (merged.scalars as Record<string, Merged<unknown>>)[key];
      const node = pair.key as { commentBefore?: string };
      if (scalar) node.commentBefore = provenanceComment(scalar.origin, scalar.overrides);
      else if (key === 'path' || key === 'ldpath')
        node.commentBefore = present(merged[key], key)
          .contributions.map((c) => ` info: from ${where(c.origin)}`)
          .join('\n');
      else if (key.startsWith('share_')) {
        const share = merged.shares[key.slice('share_'.length) as keyof MergedConfig['shares']];
        if (share.origin) node.commentBefore = provenanceComment(share.origin, share.overrides);
      } else if (key === 'capabilities' && isSeq(pair.value)) {
        pair.value.items.forEach((item, i) => {
          (item as YAMLMap).commentBefore = provenanceComment(
            merged.capabilities[i].origin,
            merged.capabilities[i].overrides,
          );
        });
      }
    }
  }
  for (const c of merged.cgroups) {
    doc.comment = `${doc.comment ?? ''} cgroups of ${c.alias} (${c.node}): ${JSON.stringify(c.settings)}\n`;
  }
  for (const s of merged.seccomp) {
    doc.comment = `${doc.comment ?? ''} seccomp filter of ${s.alias} (${s.kind}): ${JSON.stringify(s.filter)}\n`;
  }
  return doc.toString({ indentSeq: false, lineWidth: 0 });
}
