/**
 * SBOM of a node: its effective inventory, i.e. its own packages and every ancestor's (and the
 * host database above a root node, when the family view has one), each component marked with
 * the node that provides it. Emitted as SPDX 2.3 JSON or CycloneDX 1.5 JSON.
 *
 * Each component carries name, epoch/version/release/arch, license, source rpm, signature key
 * id and the digests of its files, all read from the nodes' rpm databases. A file whose content
 * on disk still matches its rpm digest also gets a SHA1 (which SPDX 2.3 asks for files).
 *
 * Deterministic: the same family gives the same document, apart from the creation time, which
 * SOURCE_DATE_EPOCH pins. Identifiers (SPDX namespace, CycloneDX serial number) are derived from
 * the content.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { Sysroot } from '../node/layout.js';
import { assertEnabled, loadFamily } from '../node/load.js';
import { hasRpmDb, HOST_PROVIDES_PACKAGE, type InstalledPackage } from '../pkg/rpm.js';
import { queryPackages } from '../pkg/installed.js';
import { packagePath } from '../package-root.js';
import { present } from '../present.js';

export type SbomFormat = 'spdx' | 'cyclonedx';
export const SBOM_FORMATS: readonly SbomFormat[] = ['spdx', 'cyclonedx'];

const TOOL_NAME = 'redpak-ts';
const TOOL_VERSION = readToolVersion();

function readToolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

/** rpm's FILEDIGESTALGO values → the algorithm's name. */
const DIGEST_ALGOS: Record<number, { spdx: string; cyclonedx?: string; node: string }> = {
  1: { spdx: 'MD5', cyclonedx: 'MD5', node: 'md5' },
  2: { spdx: 'SHA1', cyclonedx: 'SHA-1', node: 'sha1' },
  8: { spdx: 'SHA256', cyclonedx: 'SHA-256', node: 'sha256' },
  9: { spdx: 'SHA384', cyclonedx: 'SHA-384', node: 'sha384' },
  10: { spdx: 'SHA512', cyclonedx: 'SHA-512', node: 'sha512' },
  11: { spdx: 'SHA224', node: 'sha224' },
};

export interface InventoryNode {
  /** Target path of the node (or of the host database directory above the root node). */
  path: string;
  alias: string;
  hostDb?: boolean;
}

export interface InventoryFile {
  /** Absolute path inside the node, as rpm records it. */
  path: string;
  /** The rpm digest's algorithm, SPDX spelling ('SHA256'…). */
  algorithm: string;
  digest: string;
  /** SHA1 of the file on disk, when its content still matches the rpm digest. */
  sha1?: string;
}

export interface InventoryComponent {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  nevra: string;
  license?: string;
  sourceRpm?: string;
  signatureKeyId?: string;
  /** The node whose database holds it. */
  node: InventoryNode;
  files: InventoryFile[];
}

export interface Inventory {
  /** The node the SBOM is for. */
  node: InventoryNode;
  /** The family, the node first, root-most last (host database last when there is one). */
  nodes: InventoryNode[];
  /** Sorted by name, then NEVRA, then node path. */
  components: InventoryComponent[];
}

export interface InventoryOptions {
  redpath: string;
  sysroot?: string;
  cwd?: string;
}

/** Reads the effective inventory of a node from the rpm databases of its family. */
export async function collectInventory(options: InventoryOptions): Promise<Inventory> {
  const sysroot = Sysroot.open(options.sysroot);
  const family = loadFamily(options.redpath, { sysroot, cwd: options.cwd });
  assertEnabled(family);
  const sources: { node: InventoryNode; hostPath: string }[] = family.nodes.map((n) => ({
    node: { path: n.path, alias: n.alias },
    hostPath: n.hostPath,
  }));
  const top = family.nodes[family.nodes.length - 1];
  const above = dirname(top.path);
  if (top.path !== '/' && above !== '/' && hasRpmDb(sysroot.toHost(above))) {
    sources.push({
      node: { path: above, alias: `host database ${above}`, hostDb: true },
      hostPath: sysroot.toHost(above),
    });
  }
  const components: InventoryComponent[] = [];
  for (const source of sources) {
    for (const p of await queryPackages(source.hostPath)) {
      if (p.name === HOST_PROVIDES_PACKAGE) continue;
      components.push(componentOf(p, source.node, source.hostPath));
    }
  }
  components.sort((a, b) => cmp(a.name, b.name) || cmp(a.nevra, b.nevra) || cmp(a.node.path, b.node.path));
  return { node: sources[0].node, nodes: sources.map((s) => s.node), components };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function componentOf(p: InstalledPackage, node: InventoryNode, hostPath: string): InventoryComponent {
  const algo = DIGEST_ALGOS[p.fileDigestAlgo ?? 0];
  const files: InventoryFile[] = [];
  for (const f of p.files) {
    // Directories, symlinks and ghosts have no digest.
    if (!f.digest || !algo) continue;
    const file: InventoryFile = { path: f.path, algorithm: algo.spdx, digest: f.digest.toLowerCase() };
    const sha1 = sha1IfUnchanged(join(hostPath, f.path), algo.node, file.digest);
    if (sha1) file.sha1 = sha1;
    files.push(file);
  }
  files.sort((a, b) => cmp(a.path, b.path));
  return {
    name: p.name,
    epoch: p.epoch,
    version: p.version,
    release: p.release,
    arch: p.arch,
    nevra: p.nevra,
    ...(p.license ? { license: p.license } : {}),
    ...(p.sourceRpm ? { sourceRpm: p.sourceRpm } : {}),
    ...(p.signatureKeyId ? { signatureKeyId: p.signatureKeyId } : {}),
    node,
    files,
  };
}

function sha1IfUnchanged(file: string, algorithm: string, digest: string): string | undefined {
  try {
    if (!existsSync(file) || !lstatSync(file).isFile()) return undefined;
    const content = readFileSync(file);
    if (createHash(algorithm).update(content).digest('hex') !== digest) return undefined;
    return createHash('sha1').update(content).digest('hex');
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** The creation time: SOURCE_DATE_EPOCH (seconds) when set, else `now`; ISO 8601 without milliseconds. */
export function creationTime(env: Record<string, string | undefined>, now: Date = new Date()): string {
  const pinned = env.SOURCE_DATE_EPOCH;
  let date = now;
  if (pinned !== undefined && pinned !== '') {
    if (!/^\d+$/.test(pinned))
      throw new RedpakError('usage', `SOURCE_DATE_EPOCH must be a number of seconds, not ${JSON.stringify(pinned)}`);
    date = new Date(Number(pinned) * 1000);
  }
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const evr = (c: InventoryComponent) => `${c.epoch ? `${c.epoch}:` : ''}${c.version}-${c.release}`;

/** Package URL of an rpm (no namespace: the distribution is not known here). */
export function purlOf(c: InventoryComponent): string {
  const qualifiers = [`arch=${encodeURIComponent(c.arch)}`, ...(c.epoch ? [`epoch=${c.epoch}`] : [])];
  return `pkg:rpm/${encodeURIComponent(c.name)}@${encodeURIComponent(`${c.version}-${c.release}`)}?${qualifiers.join('&')}`;
}

/** Whether a license string is a syntactically valid SPDX license expression. */
export function isSpdxExpression(license: string): boolean {
  const tokens = license
    .replace(/([()])/g, ' $1 ')
    .trim()
    .split(/\s+/);
  if (tokens.length === 0 || tokens[0] === '') return false;
  let depth = 0;
  let expectOperand = true;
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i];
    if (t === '(') {
      if (!expectOperand) return false;
      depth += 1;
    } else if (t === ')') {
      if (expectOperand || depth === 0) return false;
      depth -= 1;
    } else if (t === 'AND' || t === 'OR') {
      if (expectOperand) return false;
      expectOperand = true;
    } else if (t === 'WITH') {
      if (expectOperand || !/^[A-Za-z0-9.-]+$/.test(tokens[i + 1] ?? '')) return false;
      i += 1;
    } else {
      if (!expectOperand || !/^(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.-]*\+?)$/.test(t)) return false;
      expectOperand = false;
    }
  }
  return depth === 0 && !expectOperand;
}

/**
 * Fedora's and RHEL's short license names from before their move to SPDX (the License: tag of
 * older packages), with their SPDX ids. Names not listed stay as written.
 */
const LEGACY_LICENSES: Record<string, string> = {
  GPLv2: 'GPL-2.0-only',
  'GPLv2+': 'GPL-2.0-or-later',
  GPLv3: 'GPL-3.0-only',
  'GPLv3+': 'GPL-3.0-or-later',
  'GPL+': 'GPL-1.0-or-later',
  LGPLv2: 'LGPL-2.0-only',
  'LGPLv2+': 'LGPL-2.0-or-later',
  'LGPLv2.1': 'LGPL-2.1-only',
  'LGPLv2.1+': 'LGPL-2.1-or-later',
  LGPLv3: 'LGPL-3.0-only',
  'LGPLv3+': 'LGPL-3.0-or-later',
  AGPLv3: 'AGPL-3.0-only',
  'AGPLv3+': 'AGPL-3.0-or-later',
  'ASL 1.1': 'Apache-1.1',
  'ASL 2.0': 'Apache-2.0',
  'MPLv1.1': 'MPL-1.1',
  'MPLv2.0': 'MPL-2.0',
  'Artistic 2.0': 'Artistic-2.0',
  Boost: 'BSL-1.0',
  CC0: 'CC0-1.0',
  Python: 'Python-2.0',
  zlib: 'Zlib',
};
const LEGACY_PATTERN = new RegExp(
  `(^|[\\s()])(${Object.keys(LEGACY_LICENSES)
    .sort((a, b) => b.length - a.length)
    .map((k) => k.replace(/[.+]/g, '\\$&'))
    .join('|')})(?=$|[\\s()])`,
  'g',
);

/** The license tag with legacy names and the words `and`/`or` put in SPDX terms ("GPLv2+ and ASL 2.0" → "GPL-2.0-or-later AND Apache-2.0"). */
export function spdxLicense(tag: string): string {
  return tag
    .replace(LEGACY_PATTERN, (_, before: string, name: string) => `${before}${LEGACY_LICENSES[name]}`)
    .replace(/(^|[\s)])(and|or)(?=[\s(])/g, (_, before: string, word: string) => `${before}${word.toUpperCase()}`);
}

const idString = (text: string) => text.replace(/[^A-Za-z0-9.-]+/g, '-');

function contentDigest(inventory: Inventory): string {
  return createHash('sha256').update(JSON.stringify(inventory)).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// SPDX 2.3

/** SPDX 2.3 JSON: one package per node (CONTAINS its rpm packages), one per rpm, files with their digests. */
export function toSpdx(inventory: Inventory, created: string): Record<string, unknown> {
  const nodeIds = new Map(inventory.nodes.map((n, i) => [n.path, `SPDXRef-Node-${i}`]));
  const extracted = new Map<string, string>();
  const licenseOf = (raw: string | undefined): string => {
    if (!raw) return 'NOASSERTION';
    if (isSpdxExpression(spdxLicense(raw))) return spdxLicense(raw);
    const id = `LicenseRef-${idString(raw)}`;
    extracted.set(id, raw);
    return id;
  };
  const packages: Record<string, unknown>[] = inventory.nodes.map((n) => ({
    SPDXID: nodeIds.get(n.path),
    name: n.alias,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: n.hostDb ? 'OPERATING_SYSTEM' : 'CONTAINER',
    comment: n.hostDb
      ? `rpm database of the host at ${n.path}, below the family's root node`
      : `redpak node ${n.alias} at ${n.path}`,
  }));
  const files: Record<string, unknown>[] = [];
  const relationships: Record<string, unknown>[] = [
    {
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: nodeIds.get(inventory.node.path),
    },
  ];
  for (let i = 1; i < inventory.nodes.length; i += 1) {
    relationships.push({
      spdxElementId: nodeIds.get(inventory.nodes[i - 1].path),
      relationshipType: 'DEPENDS_ON',
      relatedSpdxElement: nodeIds.get(inventory.nodes[i].path),
    });
  }
  inventory.components.forEach((c, i) => {
    const id = `SPDXRef-Package-${idString(c.name)}-${i}`;
    const notes = [
      `provided by node ${c.node.alias} (${c.node.path})`,
      c.signatureKeyId ? `signature key id ${c.signatureKeyId}` : 'unsigned',
    ];
    packages.push({
      SPDXID: id,
      name: c.name,
      versionInfo: evr(c),
      ...(c.sourceRpm ? { sourceInfo: `built from source rpm ${c.sourceRpm}` } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: licenseOf(c.license),
      copyrightText: 'NOASSERTION',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purlOf(c) }],
      attributionTexts: [
        `redpak:node=${c.node.path}`,
        `redpak:node-alias=${c.node.alias}`,
        `rpm:arch=${c.arch}`,
        `rpm:epoch=${c.epoch}`,
        ...(c.sourceRpm ? [`rpm:sourcerpm=${c.sourceRpm}`] : []),
        ...(c.signatureKeyId ? [`rpm:signature-key-id=${c.signatureKeyId}`] : []),
      ],
      comment: notes.join('; '),
    });
    relationships.push({
      spdxElementId: nodeIds.get(c.node.path),
      relationshipType: 'CONTAINS',
      relatedSpdxElement: id,
    });
    c.files.forEach((f, j) => {
      const fileId = `SPDXRef-File-${i}-${j}`;
      files.push({
        SPDXID: fileId,
        fileName: `.${f.path}`,
        checksums: [
          ...(f.sha1 ? [{ algorithm: 'SHA1', checksumValue: f.sha1 }] : []),
          ...(f.algorithm !== 'SHA1' || !f.sha1 ? [{ algorithm: f.algorithm, checksumValue: f.digest }] : []),
        ],
        licenseConcluded: 'NOASSERTION',
        copyrightText: 'NOASSERTION',
        ...(f.sha1
          ? {}
          : { comment: 'content on disk differs from the package, or is missing: the digest is the one rpm recorded' }),
      });
      relationships.push({ spdxElementId: id, relationshipType: 'CONTAINS', relatedSpdxElement: fileId });
    });
  });
  const digest = contentDigest(inventory);
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `redpak node ${inventory.node.alias}`,
    documentNamespace: `https://redpak.invalid/spdx/${encodeURIComponent(inventory.node.alias)}-${digest.slice(0, 32)}`,
    creationInfo: {
      created,
      creators: [`Tool: ${TOOL_NAME}-${TOOL_VERSION}`],
      comment: `effective package inventory of node ${inventory.node.path} and its ancestors`,
    },
    documentDescribes: [nodeIds.get(inventory.node.path)],
    packages,
    files,
    relationships,
    ...(extracted.size
      ? {
          hasExtractedLicensingInfos: [...extracted]
            .sort()
            .map(([licenseId, extractedText]) => ({ licenseId, extractedText, name: extractedText })),
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// CycloneDX 1.5

function uuidFrom(hex: string): string {
  const h = hex.slice(0, 32).split('');
  h[12] = '5';
  h[16] = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** CycloneDX 1.5 JSON: the node as metadata.component, one library component per rpm, its files nested. */
export function toCycloneDx(inventory: Inventory, created: string): Record<string, unknown> {
  const nodeRef = (n: InventoryNode) => `node:${n.path}`;
  const components = inventory.components.map((c) => {
    const ref = `${c.node.path}#${c.nevra}`;
    const files = c.files.map((f) => {
      const algo = Object.values(DIGEST_ALGOS).find((a) => a.spdx === f.algorithm);
      const hashes = [
        ...(algo?.cyclonedx ? [{ alg: algo.cyclonedx, content: f.digest }] : []),
        ...(f.sha1 && f.algorithm !== 'SHA1' ? [{ alg: 'SHA-1', content: f.sha1 }] : []),
      ];
      return { type: 'file', 'bom-ref': `${ref}:${f.path}`, name: f.path, ...(hashes.length ? { hashes } : {}) };
    });
    const properties = [
      { name: 'redpak:node', value: c.node.path },
      { name: 'redpak:node-alias', value: c.node.alias },
      { name: 'rpm:epoch', value: String(c.epoch) },
      { name: 'rpm:version', value: c.version },
      { name: 'rpm:release', value: c.release },
      { name: 'rpm:arch', value: c.arch },
      ...(c.sourceRpm ? [{ name: 'rpm:sourcerpm', value: c.sourceRpm }] : []),
      ...(c.signatureKeyId ? [{ name: 'rpm:signature-key-id', value: c.signatureKeyId }] : []),
    ];
    const { license } = c;
    const spdx = license ? spdxLicense(license) : undefined;
    const licenses =
      license && spdx !== undefined
        ? isSpdxExpression(spdx)
          ? [{ expression: spdx }]
          : [{ license: { name: license } }]
        : undefined;
    return {
      type: 'library',
      'bom-ref': ref,
      name: c.name,
      version: evr(c),
      ...(licenses ? { licenses } : {}),
      purl: purlOf(c),
      properties,
      ...(files.length ? { components: files } : {}),
    };
  });
  const nodeComponent = (n: InventoryNode) => ({
    type: n.hostDb ? 'operating-system' : 'container',
    'bom-ref': nodeRef(n),
    name: n.alias,
    properties: [{ name: 'redpak:path', value: n.path }],
  });
  const byNode = new Map(inventory.nodes.map((n) => [n.path, [] as string[]]));
  for (const c of components) byNode.get((c.properties[0] as { value: string }).value)?.push(c['bom-ref']);
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidFrom(contentDigest(inventory))}`,
    version: 1,
    metadata: {
      timestamp: created,
      tools: { components: [{ type: 'application', name: TOOL_NAME, version: TOOL_VERSION }] },
      component: nodeComponent(inventory.node),
      properties: [{ name: 'redpak:family', value: inventory.nodes.map((n) => n.path).join(' ') }],
    },
    components: [...inventory.nodes.slice(1).map(nodeComponent), ...components],
    dependencies: inventory.nodes.map((n, i) => ({
      ref: nodeRef(n),
      dependsOn: [
        ...(inventory.nodes[i + 1] ? [nodeRef(inventory.nodes[i + 1])] : []),
        ...present(byNode.get(n.path), `the components of ${n.path}`),
      ],
    })),
  };
}

// ---------------------------------------------------------------------------------------------

export interface SbomOptions extends InventoryOptions {
  format?: SbomFormat;
  /** Where SOURCE_DATE_EPOCH is read (default process.env). */
  env?: Record<string, string | undefined>;
  /** The creation time when SOURCE_DATE_EPOCH is not set (default: now). */
  now?: Date;
}

export interface SbomResult {
  format: SbomFormat;
  document: Record<string, unknown>;
  inventory: Inventory;
}

/** The SBOM document of a node, in the format asked for (SPDX by default). */
export async function makeSbom(options: SbomOptions): Promise<SbomResult> {
  const format = options.format ?? 'spdx';
  if (!SBOM_FORMATS.includes(format))
    throw new RedpakError('usage', `unknown SBOM format ${JSON.stringify(format)}: use spdx or cyclonedx`);
  const created = creationTime(options.env ?? process.env, options.now);
  const inventory = await collectInventory(options);
  return {
    format,
    inventory,
    document: format === 'spdx' ? toSpdx(inventory, created) : toCycloneDx(inventory, created),
  };
}
