/**
 * What every bench shares: compared commands run interleaved (each round runs every contender
 * once, in an order that rotates from round to round, so that drift in the machine's load falls
 * on all of them alike), medians, per-round ratios against a baseline, peak memory, one table.
 */
import { spawnSync, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Contender {
  name: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** Called before each run (e.g. to open the files passed as extra fds, or to empty a cache). */
  before?: () => StdioOptions | undefined;
  /** Called after each run. */
  after?: () => void;
}

export interface Timing {
  name: string;
  samples: number[];
  median: number;
  p90: number;
}

export interface Row {
  bench: string;
  what: string;
  median?: number;
  /** Median of the per-round ratios to `against` (same round, so same machine state). */
  ratio?: number;
  against?: string;
  rssMb?: number;
  note?: string;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const low = sorted[middle - 1];
  const high = sorted[middle];
  if (high === undefined) return Number.NaN;
  return sorted.length % 2 === 0 && low !== undefined ? (low + high) / 2 : high;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/**
 * The environment every contender runs in unless it gives its own: the bench's, without
 * NODE_EXTRA_CA_CERTS. Node reads that file at start-up (~30 ms here); bin/* hand it over under
 * another name so the executables never pay for it, and a floor (`node -e 0`) or a contender
 * started without bin/ that paid for it would compare a slower floor.
 */
const BENCH_ENV: NodeJS.ProcessEnv = (() => {
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  return env;
})();

/** The environment every contender runs in, with `extra` added. */
export function benchEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...BENCH_ENV, ...extra };
}

function runOnce(contender: Contender): number {
  const stdio = contender.before?.() ?? 'ignore';
  const start = process.hrtime.bigint();
  const result = spawnSync(contender.argv[0] ?? '', contender.argv.slice(1), {
    stdio,
    env: contender.env ?? BENCH_ENV,
  });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  contender.after?.();
  if (result.status !== 0)
    throw new Error(`${contender.name}: ${contender.argv.join(' ')} exited with ${result.status ?? result.signal}`);
  return elapsed;
}

/** Runs `warmup` untimed rounds, then `rounds` timed ones, each contender once per round. */
export function interleave(contenders: Contender[], rounds: number, warmup = 1): Map<string, Timing> {
  const samples = new Map(contenders.map((c) => [c.name, [] as number[]]));
  for (let round = -warmup; round < rounds; round += 1) {
    const offset = ((round % contenders.length) + contenders.length) % contenders.length;
    for (let i = 0; i < contenders.length; i += 1) {
      const contender = contenders[(i + offset) % contenders.length];
      if (!contender) continue;
      const elapsed = runOnce(contender);
      if (round >= 0) samples.get(contender.name)?.push(elapsed);
    }
  }
  return new Map(
    [...samples].map(([name, values]) => [
      name,
      { name, samples: values, median: median(values), p90: percentile(values, 0.9) },
    ]),
  );
}

/** The median over rounds of `timing / baseline` in the same round. */
export function ratioOf(timing: Timing, baseline: Timing): number {
  return median(timing.samples.map((value, round) => value / (baseline.samples[round] ?? Number.NaN)));
}

/**
 * Peak resident set of a command and every process it waited for (GNU time's %M: the largest
 * single process of the chain; maxrss survives exec), in MB. time writes to its own file, so the
 * command's stdio can be anything. Undefined where /usr/bin/time is missing.
 */
export function peakRssMb(contender: Contender): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'redpak-bench-rss-'));
  try {
    const out = join(dir, 'rss');
    const stdio = contender.before?.() ?? 'ignore';
    const result = spawnSync('/usr/bin/time', ['-o', out, '-f', '%M', ...contender.argv], {
      stdio,
      env: contender.env ?? BENCH_ENV,
    });
    contender.after?.();
    if (result.status !== 0) return undefined;
    const kb = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
    return Number.isFinite(kb) ? kb / 1024 : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows of one comparison: every contender's median, and its ratio to the first one. */
export function compare(
  bench: string,
  contenders: Contender[],
  rounds: number,
  options: { rss?: boolean } = {},
): Row[] {
  const timings = interleave(contenders, rounds);
  const [baseline] = contenders;
  const base = baseline && timings.get(baseline.name);
  return contenders.map((contender) => {
    const timing = timings.get(contender.name);
    const row: Row = { bench, what: contender.name, median: timing?.median };
    if (timing && base && contender !== baseline) {
      row.ratio = ratioOf(timing, base);
      row.against = base.name;
    }
    if (options.rss) row.rssMb = peakRssMb(contender);
    return row;
  });
}

export function formatTable(rows: Row[]): string {
  const header = ['bench', 'what', 'median ms', 'ratio', 'against', 'RSS MB', 'note'];
  const cells = rows.map((row) => [
    row.bench,
    row.what,
    row.median === undefined ? '-' : row.median.toFixed(1),
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`,
    row.against ?? '',
    row.rssMb === undefined ? '' : row.rssMb.toFixed(1),
    row.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const numeric = new Set([2, 3, 5]);
  const line = (c: string[]) =>
    c
      .map((v, i) => (numeric.has(i) ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** The machine a table was measured on, for the line printed under it. */
export function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const cores = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 0;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `${new Date().toISOString().slice(0, 10)}, ${cores} × ${cpu.trim()}, Node ${process.version}, load ${load}`;
}

/** `--flag N` from the command line, or the default. */
export function numberFlag(flag: string, fallback: number): number {
  const index = process.argv.indexOf(flag);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * Runs a bench when its file is the program node was given (not when bench/run.ts imports it):
 * its rows as one table, the machine under it; a failure is printed and sets the exit status.
 */
export function runWhenMain(moduleUrl: string, bench: () => Row[] | Promise<Row[]>): void {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  Promise.resolve()
    .then(bench)
    .then((rows) => {
      console.log(formatTable(rows));
      console.log(`\n${machine()}`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
