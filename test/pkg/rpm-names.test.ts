import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { run } from '../../src/pkg/exec.js';
import {
  installPackages,
  nodeDbArgs,
  packageFiles,
  parseVerifyOutput,
  queryFileMetadata,
  readPackageDb,
  readQuotedRecords,
  verifyNode,
} from '../../src/pkg/rpm.js';
import { packageTopDirs } from '../../src/pkg/view.js';
import { tempDir } from '../helpers/family.js';
import { buildCraftedRpm } from './helpers/crafted-rpm.js';

// rpmbuild refuses these names ("Illegal character (0xa) in filename"): the package is crafted.
const spec = `Name: rednl
Version: 1.0
Release: 1
Summary: a package whose names rpmbuild would refuse
License: MIT
BuildArch: noarch
AutoReqProv: no
Provides: nlprov_F_/etc/shadow
%description
Crafted by the test.
%install
mkdir -p %{buildroot}/opt/rednl/evil_/etc
printf 'hostile\\n' > %{buildroot}/opt/rednl/evil_/etc/hostile
printf 'plain\\n' > %{buildroot}/opt/rednl/plain
%files
/opt/rednl
`;
const HOSTILE = '/opt/rednl/evil\n/etc/hostile';
const PATHS = ['/opt/rednl', '/opt/rednl/evil\n', '/opt/rednl/evil\n/etc', HOSTILE, '/opt/rednl/plain'];
/** A provide whose second line would read, line by line, as a file of the package. */
const PROVIDE = 'nlprov\nF\t/etc/shadow';

const withNewlines = (dir: string) =>
  buildCraftedRpm(dir, spec, [
    ['evil_', Buffer.from('evil\n')],
    ['nlprov_F_', Buffer.from('nlprov\nF\t')],
  ]);
const notUtf8 = (dir: string) => buildCraftedRpm(dir, spec, [['evil_', Buffer.from([...Buffer.from('evil'), 0xff])]]);

/** What reading rpm's output one name per line gave. */
async function linePerName(args: string[], format: string): Promise<string[]> {
  const { stdout } = await run('rpm', [...args, '--qf', format]);
  return stdout.split('\n').filter((l) => l !== '');
}

describe('names with a newline in a package', () => {
  let rpm: string;
  const work = mkdtempSync(join(tmpdir(), 'redpak-rpm-names-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  before(async () => {
    rpm = await withNewlines(work);
  });

  it('builds a package rpm checks and reads like any other', async () => {
    const { stdout } = await run('rpm', ['-Kv', rpm]);
    assert.doesNotMatch(stdout, /BAD|NOT OK/);
    assert.match(stdout, /Header SHA256 digest: OK/);
  });

  it('packageFiles reads each payload path whole; one per line read two', async () => {
    assert.deepEqual(await packageFiles([rpm]), [PATHS]);
    const old = await linePerName(['-qp', rpm], '[%{FILENAMES}\\n]');
    assert.ok(old.includes('/etc/hostile') && !old.includes(HOSTILE), 'the old reading split the name');
    // The package writes under /opt only, whatever its names spell.
    assert.deepEqual(await packageTopDirs([rpm]), ['opt']);
  });

  it('a node database reads each file and dependency whole', async (t) => {
    const node = tempDir(t);
    await installPackages(node, [rpm]);
    assert.equal(readFileSync(join(node, HOSTILE), 'utf8'), 'hostile\n', 'rpm installed the one true path');

    const [pkg] = await readPackageDb(node);
    assert.equal(pkg?.nevra, 'rednl-1.0-1.noarch');
    assert.deepEqual(
      pkg.files.map((f) => f.path),
      PATHS,
    );
    assert.equal(pkg.files.find((f) => f.path === HOSTILE)?.mode, '100644');
    assert.ok(pkg.provides.some((p) => p.name === PROVIDE));
    assert.ok(!pkg.files.some((f) => f.path === '/etc/shadow'), 'a provide cannot add a file');

    const meta = await queryFileMetadata(node);
    assert.deepEqual(
      meta.map((f) => f.path),
      PATHS,
    );
    assert.ok((meta.find((f) => f.path === HOSTILE)?.mtime ?? 0) > 0);

    const old = await linePerName([...nodeDbArgs(node), '-qa'], '[%{FILENAMES}\\t%{FILEMODES:octal}\\n]');
    assert.ok(old.includes('/etc/hostile\t100644'), 'the old reading gave /etc/hostile a mode of its own');
  });

  it('rpm -V reports a changed file under its whole name', async (t) => {
    const node = tempDir(t);
    await installPackages(node, [rpm]);
    writeFileSync(join(node, HOSTILE), 'changed in the node\n');
    const problems = await verifyNode(node);
    assert.deepEqual(
      problems.map((p) => p.path),
      [HOSTILE],
    );
    assert.ok(problems[0]?.failed.includes('digest'));
    const { stdout } = await run('rpm', [...nodeDbArgs(node), '-Va', '--nodeps', '--noscripts'], { okStatuses: [1] });
    assert.deepEqual(
      parseVerifyOutput(stdout).problems.map((p) => p.path),
      ['/opt/rednl/evil'],
      'read line by line, the result named another path',
    );
  });
});

describe('names that are not UTF-8', () => {
  it('are an error naming the package and the node (or the package file), not another name', async (t) => {
    const dir = tempDir(t);
    const rpm = await notUtf8(dir);
    await assert.rejects(
      packageFiles([rpm]),
      (e: unknown) => e instanceof RedpakError && e.message.includes(rpm) && /not valid UTF-8/.test(e.message),
    );
    const node = join(dir, 'node');
    await installPackages(node, [rpm]);
    assert.ok(existsSync(join(node, 'opt/rednl/plain')));
    const namesPackageAndNode = (e: unknown) =>
      e instanceof RedpakError &&
      e.code === 'tool-failed' &&
      e.message.includes(`node ${node}`) &&
      e.message.includes('rednl-1.0-1.noarch') &&
      /not valid UTF-8/.test(e.message);
    await assert.rejects(readPackageDb(node), namesPackageAndNode);
    await assert.rejects(queryFileMetadata(node), namesPackageAndNode);
  });
});

describe('readQuotedRecords', () => {
  it("splits at tabs and newlines outside quotes only, and reads '\\'' as a quote", () => {
    assert.deepEqual(readQuotedRecords("F\t'/a\tb\nc'\t100644\nF\t'/it'\\''s'\t0\n"), {
      records: [
        ['F', '/a\tb\nc', '100644'],
        ['F', "/it's", '0'],
      ],
    });
  });

  it('says where output cannot be read, keeping the records before it', () => {
    assert.deepEqual(readQuotedRecords("F\t'/a'\nF\t'/b\n"), {
      records: [['F', '/a']],
      error: 'a quoted name does not end: "\'/b\\n"',
    });
    assert.equal(readQuotedRecords("F\t'/a'").error, 'the output ends inside a record');
  });
});

describe('parseVerifyOutput', () => {
  it('puts a name spanning lines together, but never over a line that reads as a result', () => {
    const names = ['/opt/a\nb', '/opt/c\nS.5....T.    /etc/shadow'];
    const text = ['S.5....T.    /opt/a', 'b', '.M.......    /opt/c', 'S.5....T.    /etc/shadow', ''].join('\n');
    const { problems, other } = parseVerifyOutput(text, names);
    assert.deepEqual(
      problems.map((p) => p.path),
      ['/opt/a\nb', '/opt/c', '/etc/shadow'],
    );
    assert.deepEqual(other, []);
  });
});
