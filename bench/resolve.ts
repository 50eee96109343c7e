/**
 * Resolution on a large repository: the solver (`src/pkg/redsolver`, one `solve` request, as
 * `redwrap-dnf install` sends it) against raw libsolv doing the least any libsolv tool must do
 * (load the same primary and filelists metadata, solve the same job, order the transaction), each
 * a /usr/bin/python3 process, interleaved, timed to the end of the answer (stdout closed). Cold:
 * the solver's .solv cache is emptied before each run; warm: kept.
 *
 *   npm run build && node dist/bench/resolve.js [--rounds N] [--packages 63000]
 *
 * The repository is synthetic (Fedora-sized by default: 63,000 packages, 25 files each), written
 * once in $TMPDIR/redpak-bench-repo-N: packages in groups of 100, each requiring up to four
 * packages of its group by name or soname and one of a common base of 20 packages (every tenth
 * also a file of the base), so that an install resolves about 50 packages, as a real one does.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { solverArguments } from '../src/pkg/solver-command.cjs';
import { type Contender, median, numberFlag, type Row, ratioOf, runWhenMain } from './lib.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
// REDPAK_SOLVER_DIR: another copy of the solver package (to compare two versions).
const SOLVER = join(process.env.REDPAK_SOLVER_DIR || join(ROOT, 'src/pkg/redsolver'), '__main__.py');
const PYTHON = '/usr/bin/python3';
const GROUP = 100;
const BASE = 20;
const FILES = 25;

const name = (i: number) => `pkg${String(i).padStart(5, '0')}`;

/** Deterministic pseudo-random numbers (a linear congruential generator). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** What package i requires, each as [kind, index]: the base, then up to four of its group below it. */
function requirementsOf(i: number, next: () => number): [string, number][] {
  const out: [string, number][] = [];
  if (i >= BASE) out.push(['name', Math.floor(next() * BASE)]);
  // File dependencies are few in real repositories (/usr/bin/sh, interpreters): on the base only.
  if (i >= BASE && i % 10 === 0) out.push(['file', Math.floor(next() * BASE)]);
  const start = Math.max(BASE, Math.floor(i / GROUP) * GROUP);
  for (let k = 0; k < 4 && i > start; k += 1) {
    const j = start + Math.floor(next() * (i - start));
    out.push([k % 2 ? 'soname' : 'name', j]);
  }
  return out;
}

function requirement([kind, j]: [string, number]): string {
  if (kind === 'soname') return `<rpm:entry name="lib${name(j)}.so.1()(64bit)"/>`;
  if (kind === 'file') return `<rpm:entry name="/usr/bin/${name(j)}"/>`;
  return `<rpm:entry name="${name(j)}"/>`;
}

function filesOf(i: number): string[] {
  const n = name(i);
  const files = [`/usr/bin/${n}`, `/usr/lib64/lib${n}.so.1`];
  for (let f = files.length; f < FILES; f += 1) files.push(`/usr/share/${n}/data/file${f}.txt`);
  return files;
}

function repomdEntry(type: string, file: string, data: Buffer, open: Buffer): string {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return `<data type="${type}"><checksum type="sha256">${sha(data)}</checksum><open-checksum type="sha256">${sha(open)}</open-checksum><location href="repodata/${file}"/><timestamp>1700000000</timestamp><size>${data.length}</size><open-size>${open.length}</open-size></data>`;
}

/** The synthetic repository of `count` packages (metadata only: nothing is downloaded). */
function syntheticRepo(count: number): string {
  const dir = join(tmpdir(), `redpak-bench-repo-${count}`);
  if (existsSync(join(dir, 'repodata/repomd.xml'))) return dir;
  process.stderr.write(`writing a repository of ${count} packages (once)…\n`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'repodata'), { recursive: true });
  const next = random(13);
  const primary: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${count}">`,
  ];
  const filelists: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${count}">`,
  ];
  for (let i = 0; i < count; i += 1) {
    const n = name(i);
    const id = createHash('sha256').update(n).digest('hex');
    const requires = requirementsOf(i, next).map(requirement).join('');
    primary.push(
      `<package type="rpm"><name>${n}</name><arch>x86_64</arch><version epoch="0" ver="1.${i % 7}" rel="1.fc39"/><checksum type="sha256" pkgid="YES">${id}</checksum><summary>Synthetic package ${n}</summary><description>Synthetic package ${n} of the resolution bench, one of ${count}.</description><packager>bench</packager><url>https://example.org/${n}</url><time file="1700000000" build="1700000000"/><size package="${10000 + i}" installed="${40000 + i}" archive="${40500 + i}"/><location href="Packages/${n}-1.${i % 7}-1.fc39.x86_64.rpm"/><format><rpm:license>MIT</rpm:license><rpm:vendor>bench</rpm:vendor><rpm:group>Unspecified</rpm:group><rpm:buildhost>bench</rpm:buildhost><rpm:sourcerpm>${n}-1.${i % 7}-1.fc39.src.rpm</rpm:sourcerpm><rpm:header-range start="4504" end="9000"/><rpm:provides><rpm:entry name="${n}" flags="EQ" epoch="0" ver="1.${i % 7}" rel="1.fc39"/><rpm:entry name="${n}(x86-64)" flags="EQ" epoch="0" ver="1.${i % 7}" rel="1.fc39"/><rpm:entry name="lib${n}.so.1()(64bit)"/></rpm:provides><rpm:requires>${requires}</rpm:requires><file>/usr/bin/${n}</file></format></package>`,
    );
    filelists.push(
      `<package pkgid="${id}" name="${n}" arch="x86_64"><version epoch="0" ver="1.${i % 7}" rel="1.fc39"/>${filesOf(i)
        .map((f) => `<file>${f}</file>`)
        .join('')}<file type="dir">/usr/share/${n}</file></package>`,
    );
  }
  primary.push('</metadata>\n');
  filelists.push('</filelists>\n');
  const entries: string[] = [];
  for (const [type, parts] of [
    ['primary', primary],
    ['filelists', filelists],
  ] as const) {
    const open = Buffer.from(parts.join('\n'));
    const data = gzipSync(open, { level: 6 });
    const file = `${type}.xml.gz`;
    writeFileSync(join(dir, 'repodata', file), data);
    entries.push(repomdEntry(type, file, data, open));
  }
  writeFileSync(
    join(dir, 'repodata/repomd.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision>${entries.join('')}</repomd>\n`,
  );
  return dir;
}

/** Raw libsolv: the metadata loaded, the job solved, the transaction ordered; nothing cached, no family. */
const RAW_LIBSOLV = `
import sys, solv
pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)
pool.setarch()
pool.installed = pool.add_repo('@System')
repo = pool.add_repo('bench')
for kind, flags in (('primary', 0), ('filelists', solv.Repo.REPO_EXTEND_SOLVABLES)):
    f = solv.xfopen(sys.argv[1] + '/repodata/' + kind + '.xml.gz')
    repo.add_rpmmd(f, None, flags)
    f.close()
repo.internalize()
pool.addfileprovides()
pool.createwhatprovides()
jobs = pool.select(sys.argv[2], solv.Selection.SELECTION_NAME).jobs(solv.Job.SOLVER_INSTALL)
solver = pool.Solver()
solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 1)
assert not solver.solve(jobs)
trans = solver.transaction()
trans.order()
print(len(trans.newsolvables()))
`;

export async function resolveBench(rounds: number, count: number): Promise<Row[]> {
  if (spawnSync(PYTHON, ['-c', 'import solv']).status !== 0)
    return [{ bench: 'resolve', what: 'solver vs raw libsolv', note: 'skipped: python3-solv is missing' }];
  const repo = syntheticRepo(count);
  const work = join(tmpdir(), `redpak-bench-resolve-${process.pid}`);
  const cache = join(work, 'solv-cache');
  const node = join(work, 'node');
  mkdirSync(node, { recursive: true });
  // The top of the last group: it pulls in its group's chain and the base.
  const wanted = name(count - 1);
  const request = join(work, 'request.json');
  writeFileSync(
    request,
    JSON.stringify({
      protocol: 1,
      mode: 'solve',
      node,
      ancestors: [],
      repos: [{ id: 'bench', dir: repo }],
      jobs: [{ op: 'install', what: wanted }],
      solvCache: cache,
    }),
  );
  const contenders: Contender[] = [
    { name: 'raw libsolv (load + solve)', argv: [PYTHON, '-c', RAW_LIBSOLV, repo, wanted] },
    ...(['cold', 'warm'] as const).map((state) => ({
      name: `solver, cache ${state}`,
      // As the product runs it (src/pkg/solver-command.cts).
      argv: [PYTHON, ...solverArguments(dirname(SOLVER))],
      before: () => {
        if (state === 'cold') rmSync(cache, { recursive: true, force: true });
        return undefined;
      },
    })),
  ];
  try {
    const samples = new Map(contenders.map((c) => [c.name, [] as number[]]));
    for (let round = -1; round < rounds; round += 1) {
      for (let i = 0; i < contenders.length; i += 1) {
        const contender = contenders[(i + Math.max(round, 0)) % contenders.length];
        if (!contender) continue;
        contender.before?.();
        const elapsed = await answerTime(contender.argv, contender.argv[1] === '-I' ? request : undefined);
        if (round >= 0) samples.get(contender.name)?.push(elapsed);
      }
    }
    const timings = [...samples].map(([name, values]) => ({ name, samples: values, median: median(values), p90: 0 }));
    const [base] = timings;
    const bench = `resolve, ${count} available`;
    return timings.map((timing) => ({
      bench,
      what: timing.name,
      median: timing.median,
      ...(base && timing !== base ? { ratio: ratioOf(timing, base), against: base.name } : {}),
    }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Milliseconds from the start of `argv` to the end of its answer: its stdout closed (the solver
 * closes it once it has answered and goes on writing its cache; raw libsolv at its exit). The
 * exit is awaited before the next run.
 */
function answerTime(argv: string[], stdin?: string): Promise<number> {
  return new Promise((settle, fail) => {
    const input = stdin === undefined ? 'ignore' : openSync(stdin, 'r');
    const start = process.hrtime.bigint();
    const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: [input, 'pipe', 'inherit'] });
    if (typeof input === 'number') closeSync(input);
    let elapsed = 0;
    child.stdout?.on('data', () => undefined);
    child.stdout?.on('end', () => {
      elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    });
    child.on('close', (status) =>
      status === 0 ? settle(elapsed) : fail(new Error(`${argv.join(' ')} exited with ${status}`)),
    );
  });
}

runWhenMain(import.meta.url, () => resolveBench(numberFlag('--rounds', 5), numberFlag('--packages', 63000)));
