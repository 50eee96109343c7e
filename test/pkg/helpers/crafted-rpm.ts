/**
 * A crafted .rpm whose names hold bytes rpmbuild refuses (a newline, a tab, bytes that are not
 * UTF-8), the way a hostile repository or a local package could carry them: rpmbuild builds it
 * with same-length placeholders and an uncompressed payload, the placeholders are replaced in the
 * header and the payload, and the payload digests and header digests are computed again, so that
 * rpm checks and installs it like any package (`rpm -K` says OK).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../src/pkg/exec.js';

/** What each placeholder of the spec becomes; both sides of a pair have the same length in bytes. */
export type Replacements = readonly (readonly [placeholder: string, bytes: Buffer])[];

const LEAD_BYTES = 96;
const pad8 = (n: number) => (n + 7) & ~7;
const hash = (algorithm: string, ...data: Buffer[]) => createHash(algorithm).update(Buffer.concat(data));

/** Header structure: 16 bytes of magic and counts, 16 bytes per index entry, then the data. */
function headerLength(file: Buffer, at: number): number {
  return 16 + 16 * file.readUInt32BE(at + 8) + file.readUInt32BE(at + 12);
}

/** Replaces every occurrence of `from` in place; how many there were. */
function replaceAll(buffer: Buffer, from: Buffer, to: Buffer): number {
  let count = 0;
  for (let at = buffer.indexOf(from); at >= 0; at = buffer.indexOf(from, at + to.length)) {
    to.copy(buffer, at);
    count++;
  }
  return count;
}

/** Builds `spec` (its %install and %files use the placeholders) and returns the crafted package's path. */
export async function buildCraftedRpm(dir: string, spec: string, replacements: Replacements): Promise<string> {
  const top = join(dir, 'rpmbuild');
  mkdirSync(top, { recursive: true });
  const specPath = join(dir, 'crafted.spec');
  writeFileSync(specPath, spec);
  await run('rpmbuild', [
    '--define',
    `_topdir ${top}`,
    '--define',
    `_dbpath ${join(dir, 'db')}`,
    // No compression: the placeholders are found and replaced in the payload as they are.
    '--define',
    '_binary_payload w.ufdio',
    '--nodeps',
    '-bb',
    specPath,
  ]);
  const rpmDir = join(top, 'RPMS', 'noarch');
  const [built] = readdirSync(rpmDir);
  if (!built) throw new Error('rpmbuild built nothing');
  const original = readFileSync(join(rpmDir, built));
  const crafted = Buffer.from(original);

  const signatureAt = LEAD_BYTES;
  const headerAt = signatureAt + pad8(headerLength(original, signatureAt));
  const headerEnd = headerAt + headerLength(original, headerAt);
  const parts = (file: Buffer) => ({
    signature: file.subarray(signatureAt, headerAt),
    header: file.subarray(headerAt, headerEnd),
    payload: file.subarray(headerEnd),
  });
  for (const [placeholder, bytes] of replacements) {
    const from = Buffer.from(placeholder);
    if (from.length !== bytes.length) throw new Error(`placeholder ${placeholder} and its bytes differ in length`);
    if (replaceAll(crafted, from, bytes) === 0) throw new Error(`placeholder ${placeholder} is not in the package`);
  }
  const before = parts(original);
  const after = parts(crafted);
  const replaceDigest = (where: Buffer, old: Buffer, now: Buffer) => {
    if (replaceAll(where, old, now) === 0) throw new Error('a digest to update is not in the package');
  };
  // The header records the payload's digests (compressed and not: the same bytes here) as hex...
  const payloadDigest = (p: ReturnType<typeof parts>) => Buffer.from(hash('sha256', p.payload).digest('hex'));
  replaceDigest(after.header, payloadDigest(before), payloadDigest(after));
  // ...and the signature header the header's digests (hex) and the MD5 of header and payload (binary).
  for (const algorithm of ['sha1', 'sha256']) {
    const digest = (p: ReturnType<typeof parts>) => Buffer.from(hash(algorithm, p.header).digest('hex'));
    replaceDigest(after.signature, digest(before), digest(after));
  }
  const md5 = (p: ReturnType<typeof parts>) => hash('md5', p.header, p.payload).digest();
  replaceDigest(after.signature, md5(before), md5(after));

  const path = join(dir, built);
  writeFileSync(path, crafted);
  return path;
}
