/**
 * Test helpers for redwrap-dnf as an ordinary user (test/pkg/rootless*.test.ts): a fixture
 * repository every user may read, repository files owned by the user, ownership checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PACKAGE_ROOT } from '../../helpers/cli.js';
import type { TestUser } from '../../helpers/users.js';
import { fixtureRepo } from './family.js';

/** The package's executables (bin/NAME). */
export const bin = (name: string) => join(PACKAGE_ROOT, 'bin', name);

/** A copy of the fixture repository in a directory every user may read (mkdtemp makes 0700). */
export async function readableRepo(t: TestContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-rootless-repo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  cpSync((await fixtureRepo()).repoDir, join(dir, 'repo'), { recursive: true });
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  return join(dir, 'repo');
}

/** NODE/etc/yum.repos.d/fixtures.repo naming `repo`, owned by `owner` when given. */
export function repoFile(node: string, repo: string, owner?: TestUser): void {
  const dir = join(node, 'etc/yum.repos.d');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fixtures.repo'), `[fixtures]\nname=fixtures\nbaseurl=file://${repo}\ngpgcheck=0\n`);
  if (owner) for (const p of [dir, join(dir, 'fixtures.repo')]) chownSync(p, owner.uid, owner.gid);
}

export function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.status, 0, `${what}: status ${r.status}\n${r.stdout}\n${r.stderr}`);
}

/** Every path under `dir` (not following links) whose owner is not `uid`. */
export function notOwnedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.uid !== uid) out.push(p);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}
