import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { packagePath } from '../../src/package-root.js';
import { schemaSources } from '../../src/pkg/solver-validators.js';
import {
  auditTree,
  prepareSolver,
  query,
  SOLVER_PROTOCOL,
  solverAnswer,
  solverPackagePath,
  solverPython,
  solverRequest,
  type SolverMode,
  solve,
} from '../../src/pkg/solver.js';
import { solverArguments } from '../../src/pkg/solver-command.cjs';

const MODES: SolverMode[] = ['solve', 'query', 'check', 'audit', 'why'];

/** Run the real solver package on `input`, as solver.ts does (`extra`: more arguments). */
function runSolver(input: string, extra: string[] = []): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(solverPython(), [...solverArguments(solverPackagePath()), ...extra], {
    input,
    encoding: 'utf8',
  });
}

/** Run Python code with the solver package importable (the way __main__.py makes it). */
function python(code: string, input = ''): string {
  const result = spawnSync(
    solverPython(),
    ['-I', '-c', `import sys; sys.path.insert(0, ${JSON.stringify(packagePath('src/pkg'))})\n${code}`],
    { input, encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

/** The smallest valid request of each mode, built by the TypeScript side. */
const MINIMAL: Record<SolverMode, object> = {
  solve: { node: '/nonexistent/n', ancestors: [], repos: [], jobs: [{ op: 'upgrade-all' }] },
  query: { node: '/nonexistent/n', ancestors: [], repos: [], query: { scope: 'installed' } },
  check: { ancestors: [], nodes: [{ node: '/nonexistent/n' }] },
  audit: { nodes: [{ node: '/nonexistent/n' }], outer: [] },
  why: { nodes: [{ node: '/nonexistent/n' }], outer: [], focus: '/nonexistent/n', capability: 'x' },
};

const isError = (code: string, pattern: RegExp) => (e: unknown) =>
  e instanceof RedpakError && e.code === code && pattern.test(e.message);

describe('the solver protocol, Python side', () => {
  it('answers a request of every mode in the current version, and its answers carry that version', () => {
    for (const mode of MODES) {
      const result = runSolver(solverRequest(mode, MINIMAL[mode]));
      assert.equal(result.status, 0, `${mode}: ${result.stderr}`);
      assert.equal(solverAnswer(mode, result.stdout).protocol, SOLVER_PROTOCOL);
    }
  });

  it('refuses another version, a missing or unknown mode, and a malformed request: message on stderr, exit 2', () => {
    const valid = JSON.parse(solverRequest('audit', MINIMAL.audit)) as Record<string, unknown>;
    const cases: [object, RegExp][] = [
      [
        { ...valid, protocol: SOLVER_PROTOCOL + 1 },
        /protocol version 2 is not supported \(this solver speaks version 1\)/,
      ],
      [{ ...valid, protocol: undefined }, /protocol version null is not supported/],
      [{ ...valid, mode: undefined }, /unknown solver mode null \(known: solve, query, check, audit, why\)/],
      // Before the protocol, a request without a mode meant "solve": now nothing is implied.
      [{ ...valid, mode: 'install' }, /unknown solver mode "install"/],
      [{ ...valid, outer: 'a-string' }, /malformed audit request: \/outer: must be array/],
      [{ ...valid, extra: true }, /malformed audit request: \/: unexpected property extra/],
    ];
    for (const [request, message] of cases) {
      const result = runSolver(JSON.stringify(request));
      assert.equal(result.status, 2, JSON.stringify(request));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
    }
    assert.match(runSolver('not json').stderr, /the request is not JSON/);
  });

  it('started with -S, imports solv from the site directories without running their .pth files; without -S it answers as well', () => {
    const main = join(solverPackagePath(), '__main__.py');
    const request = solverRequest('solve', MINIMAL.solve);
    const traced = spawnSync(solverPython(), ['-I', '-S', '-X', 'importtime', main, '--prepare', 'solve'], {
      input: request,
      encoding: 'utf8',
    });
    assert.equal(traced.status, 0, traced.stderr);
    const imported = traced.stderr
      .split('\n')
      .map((line) => line.split('|').pop()?.trim())
      .filter(Boolean);
    assert.ok(imported.includes('solv'), 'solv was imported');
    // site.main() imports sitecustomize (Debian ships one): it did not run.
    assert.ok(!imported.includes('sitecustomize'), 'site did not run in full');
    // A .pth file of Debian's setuptools imports this hook when site runs in full.
    if (existsSync('/usr/lib/python3/dist-packages/distutils-precedence.pth'))
      assert.ok(!imported.includes('_distutils_hack'), 'no .pth file ran');
    const plain = spawnSync(solverPython(), ['-I', main], { input: request, encoding: 'utf8' });
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(JSON.parse(plain.stdout).ok, true);
  });

  it('started ahead (--prepare MODE) answers a request of any mode; other arguments are a usage error, exit 2', () => {
    for (const prepared of ['solve', 'query']) {
      for (const mode of MODES) {
        const result = runSolver(solverRequest(mode, MINIMAL[mode]), ['--prepare', prepared]);
        assert.equal(result.status, 0, `${prepared} then ${mode}: ${result.stderr}`);
        assert.equal(solverAnswer(mode, result.stdout).protocol, SOLVER_PROTOCOL);
      }
    }
    for (const extra of [['--prepare'], ['solve'], ['--prepare', 'solve', 'more']]) {
      const result = runSolver(solverRequest('solve', MINIMAL.solve), extra);
      assert.equal(result.status, 2, extra.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /usage: __main__\.py \[--prepare MODE\]/);
    }
  });

  it('reads the metadata files repomd.xml names as the rpm-md format places them, and refuses a document type declaration', () => {
    const read = (xml: string) =>
      python(
        `import json, sys\nfrom redsolver.pool import repomd_locations\ntry:\n    print(json.dumps(repomd_locations(sys.stdin.buffer.read())))\nexcept ValueError as e:\n    print(json.dumps(str(e)))`,
        xml,
      );
    const ns = 'xmlns="http://linux.duke.edu/metadata/repo"';
    // Only <data> children of the root count; the first <location> of each; a later <data> of a type wins.
    const xml = `<?xml version="1.0"?><repomd ${ns}><revision>1</revision>
      <data type="primary"><location/><location href="ignored"/></data>
      <data type="primary"><checksum type="sha256">00</checksum><location href="repodata/p.xml.gz"/></data>
      <data><location href="no-type"/></data>
      <other><data type="filelists"><location href="nested"/></data></other>
      <data type="filelists"><location href="repodata/f.xml.gz"/></data>
      <data type="foreign"><location xmlns="urn:x" href="another-namespace"/></data></repomd>`;
    assert.deepEqual(JSON.parse(read(xml)), { primary: 'repodata/p.xml.gz', filelists: 'repodata/f.xml.gz' });
    assert.match(
      JSON.parse(
        read(
          `<!DOCTYPE repomd [<!ENTITY p "x">]><repomd ${ns}><data type="primary"><location href="&p;"/></data></repomd>`,
        ),
      ),
      /document type declaration is not allowed/,
    );
  });

  it('names its cache files with SHA-256 as hashlib computes it (whichever implementation it imported)', () => {
    const out = python(
      'import hashlib\nfrom redsolver.pool import sha256\nprint(sha256(b"redpak").hexdigest() == hashlib.sha256(b"redpak").hexdigest())',
    );
    assert.equal(out.trim(), 'True');
  });

  it('its validator refuses a schema keyword it does not check, so a schema change cannot go unchecked there', () => {
    const out = python(`
from redsolver.schema import SchemaError, check_keywords
try:
    check_keywords({'type': 'object', 'properties': {'a': {'type': 'string', 'pattern': '^x'}}}, 'test')
    print('accepted')
except SchemaError as e:
    print(e)`);
    assert.match(out, /test\.a: keyword\(s\) pattern not supported/);
  });
});

describe('the solver protocol, TypeScript side', () => {
  const answer = (fields: object) => JSON.stringify({ protocol: SOLVER_PROTOCOL, ok: true, ...fields });

  it('refuses an answer in another protocol version', () => {
    assert.throws(
      () => solverAnswer('check', JSON.stringify({ protocol: 2, ok: true, violations: [] })),
      isError('tool-failed', /protocol version 2, expected 1/),
    );
    assert.throws(
      () => solverAnswer('check', JSON.stringify({ ok: true, violations: [] })),
      isError('tool-failed', /protocol version undefined/),
    );
  });

  it('refuses a malformed answer with a clear error naming the place', () => {
    assert.throws(
      () => solverAnswer('check', answer({})),
      isError(
        'tool-failed',
        /check answer does not follow the solver protocol: \/ must have required property 'violations'/,
      ),
    );
    assert.throws(
      () =>
        solverAnswer(
          'solve',
          answer({
            steps: [{ action: 'explode', nevra: 'a', name: 'a', evr: '1', arch: 'noarch', node: '/n' }],
            problems: [],
            violations: [],
          }),
        ),
      isError('tool-failed', /\/steps\/0\/action must be equal to one of the allowed values/),
    );
    assert.throws(
      () => solverAnswer('audit', 'Traceback (most recent call last):'),
      isError('tool-failed', /not JSON/),
    );
  });

  it('turns an error answer into a solver error carrying its message', () => {
    const text = JSON.stringify({
      protocol: SOLVER_PROTOCOL,
      ok: false,
      error: 'cannot read the rpm database of node /x',
    });
    assert.throws(() => solverAnswer('solve', text), isError('solver', /^cannot read the rpm database of node \/x$/));
  });

  it('refuses to send a request that does not follow the protocol', () => {
    assert.throws(
      () => solverRequest('solve', { ...MINIMAL.solve, jobs: [{ op: 'explode' }] }),
      isError('solver', /\/jobs\/0\/op must be equal to one of the allowed values/),
    );
    assert.throws(
      () => solverRequest('audit', { ...MINIMAL.audit, focus: '/n' }),
      isError('solver', /must NOT have additional properties/),
    );
  });

  describe('with another solver package (REDPAK_SOLVER_DIR)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redpak-fake-solver-'));
    after(() => {
      delete process.env.REDPAK_SOLVER_DIR;
      rmSync(dir, { recursive: true, force: true });
    });
    const fake = (printed: object) => {
      writeFileSync(
        join(dir, '__main__.py'),
        `import sys\nsys.stdin.read()\nprint(${JSON.stringify(JSON.stringify(printed))})\n`,
      );
      process.env.REDPAK_SOLVER_DIR = dir;
    };

    it('uses it, and refuses its answer when it speaks another version or leaves a field out', async () => {
      fake({ protocol: 2, ok: true, findings: [], unreadable: [], packages: {} });
      await assert.rejects(
        auditTree({ nodes: [], outer: [] }),
        isError('tool-failed', /protocol version 2, expected 1/),
      );
      fake({ protocol: SOLVER_PROTOCOL, ok: true, findings: [], packages: {} });
      await assert.rejects(
        auditTree({ nodes: [], outer: [] }),
        isError('tool-failed', /must have required property 'unreadable'/),
      );
      fake({ protocol: SOLVER_PROTOCOL, ok: true, findings: [], unreadable: [], packages: { '/n': 3 } });
      assert.deepEqual(await auditTree({ nodes: [], outer: [] }), {
        findings: [],
        unreadable: [],
        packages: { '/n': 3 },
      });
    });

    it('a solve is answered once the solver closes stdout; its exit (the cache written) comes later', async () => {
      // The fake answers, closes stdout, then waits for the test to let it finish: a caller
      // waiting for its exit before taking the answer would never get one.
      const go = join(dir, 'go');
      const exited = join(dir, 'exited');
      const answer = { protocol: SOLVER_PROTOCOL, ok: true, steps: [], problems: [], violations: [] };
      writeFileSync(
        join(dir, '__main__.py'),
        [
          'import os, sys, time',
          'sys.stdin.read()',
          `print(${JSON.stringify(JSON.stringify(answer))}, flush=True)`,
          'os.dup2(os.open(os.devnull, os.O_WRONLY), 1)',
          'deadline = time.time() + 30',
          `while not os.path.exists(${JSON.stringify(go)}) and time.time() < deadline:`,
          '    time.sleep(0.01)',
          `open(${JSON.stringify(exited)}, "w").close()`,
        ].join('\n'),
      );
      process.env.REDPAK_SOLVER_DIR = dir;
      const exits: Promise<void>[] = [];
      const request = { node: '/n', ancestors: [], repos: [], jobs: [] };
      assert.deepEqual(await solve(request, exits), { ok: true, steps: [], problems: [], violations: [] });
      assert.equal(exits.length, 1);
      assert.equal(existsSync(exited), false, 'answered while the solver still runs');
      writeFileSync(go, '');
      await exits[0];
      assert.equal(existsSync(exited), true, 'the exit is awaited through `exits`');
    });

    it('a solver prepared ahead is the one a solve of its mode uses; one of another mode is killed unread', async () => {
      // Each run of the fake that read a request writes down its arguments: who answered.
      const answered = join(dir, 'answered');
      writeFileSync(answered, '');
      writeFileSync(
        join(dir, '__main__.py'),
        [
          'import sys',
          'sys.stdin.read()',
          `open(${JSON.stringify(answered)}, "a").write(" ".join(sys.argv[1:]) + "\\n")`,
          `print(${JSON.stringify(JSON.stringify({ protocol: SOLVER_PROTOCOL, ok: true, steps: [], problems: [], violations: [] }))})`,
        ].join('\n'),
      );
      process.env.REDPAK_SOLVER_DIR = dir;
      const request = { node: '/n', ancestors: [], repos: [], jobs: [] };
      const prepared = prepareSolver('solve');
      assert.ok(prepared);
      const exits: Promise<void>[] = [];
      assert.equal((await solve(request, exits, prepared)).ok, true);
      await Promise.all(exits);
      assert.equal(readFileSync(answered, 'utf8'), '--prepare solve\n', 'the prepared solver answered');
      // Given again (a caller reusing its options), it is not asked twice: a solver is started.
      writeFileSync(answered, '');
      assert.equal((await solve(request, exits, prepared)).ok, true);
      await Promise.all(exits);
      assert.equal(readFileSync(answered, 'utf8'), '\n', 'a used solver is not taken again');

      writeFileSync(answered, '');
      const other = prepareSolver('query');
      assert.ok(other);
      assert.equal((await solve(request, exits, other)).ok, true);
      await Promise.all(exits);
      await assert.rejects(other.started.result, isError('tool-failed', /killed by SIGKILL/));
      assert.equal(readFileSync(answered, 'utf8'), '\n', 'a solver started for the solve answered');
    });

    it('a query takes a prepared query solver and returns once it exited (its cache written)', async () => {
      const exited = join(dir, 'query-exited');
      writeFileSync(
        join(dir, '__main__.py'),
        [
          'import os, sys, time',
          'sys.stdin.read()',
          `print(${JSON.stringify(JSON.stringify({ protocol: SOLVER_PROTOCOL, ok: true, packages: [] }))}, flush=True)`,
          'os.dup2(os.open(os.devnull, os.O_WRONLY), 1)',
          'time.sleep(0.2)',
          `open(${JSON.stringify(exited)}, "w").write(" ".join(sys.argv[1:]))`,
        ].join('\n'),
      );
      process.env.REDPAK_SOLVER_DIR = dir;
      const prepared = prepareSolver('query');
      assert.ok(prepared);
      const request = { node: '/n', ancestors: [], repos: [] };
      assert.deepEqual(await query(request, { scope: 'installed' }, prepared), []);
      assert.equal(readFileSync(exited, 'utf8'), '--prepare query', 'the prepared solver answered, and had exited');
    });

    it('a prepared solver that is discarded is killed before it reads a request; discarding it twice, or once used, does nothing', async () => {
      writeFileSync(join(dir, '__main__.py'), 'import sys\nsys.stdin.read()\nprint("{}")\n');
      process.env.REDPAK_SOLVER_DIR = dir;
      const prepared = prepareSolver('solve');
      assert.ok(prepared);
      prepared.discard();
      prepared.discard();
      await assert.rejects(prepared.started.result, isError('tool-failed', /killed by SIGKILL/));
      const python = process.env.REDPAK_PYTHON;
      process.env.REDPAK_PYTHON = join(dir, 'no-python');
      try {
        assert.equal(prepareSolver('solve'), undefined, 'no interpreter: the solve itself reports it');
      } finally {
        if (python === undefined) delete process.env.REDPAK_PYTHON;
        else process.env.REDPAK_PYTHON = python;
      }
    });

    it('a directory that is not a solver package is an error, not a silent fallback', () => {
      process.env.REDPAK_SOLVER_DIR = join(dir, 'missing');
      assert.throws(() => solverPackagePath(), isError('tool-missing', /no __main__\.py/));
    });
  });
});

describe('one set of schema files for both sides', () => {
  const pythonFiles = (): Record<string, string> =>
    JSON.parse(
      python(`
import json, os
from redsolver.protocol import MODES, schema_path
from redsolver.schema import load_schema
names = [m + '.' + k for m in MODES for k in ('request', 'answer')] + ['error.answer']
for n in names:
    load_schema(schema_path(n))  # every one within what the Python validator checks
print(json.dumps({n: os.path.relpath(schema_path(n), ${JSON.stringify(packagePath())}) for n in names}))`),
    ) as Record<string, string>;

  it('the TypeScript validators were compiled from the very files the Python side reads, as they are now', () => {
    const files = pythonFiles();
    assert.deepEqual(Object.fromEntries(Object.entries(schemaSources).map(([name, s]) => [name, s.file])), files);
    for (const [name, source] of Object.entries(schemaSources)) {
      const sha256 = createHash('sha256')
        .update(readFileSync(packagePath(source.file)))
        .digest('hex');
      assert.equal(sha256, source.sha256, `${name}: the compiled validator is stale (npm run build)`);
    }
  });

  it('the Python side accepts every request the TypeScript side validated', () => {
    for (const mode of MODES) {
      const out = python(
        `
import json, sys
from redsolver.entry import checked_request
print(checked_request(json.load(sys.stdin))[0])`,
        solverRequest(mode, MINIMAL[mode]),
      );
      assert.equal(out.trim(), mode);
    }
  });
});
