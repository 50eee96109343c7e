/**
 * The grammar of cgroup values, for the launch (wrap/cgroups.ts, which turns a BadValue into a
 * schema error naming node and key) and for the budget lint (audit/cgroups-lint.ts, which skips
 * what does not parse: value errors are reported by the launch checks). Pure. Each check returns
 * the normalised value or throws a BadValue saying what was expected.
 */

export class BadValue extends Error {}

const SUFFIX: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "max", or bytes with an optional K/M/G/T suffix (powers of 1024, as the kernel's memparse). */
export function memoryBytes(raw: string): 'max' | number {
  const text = raw.trim();
  if (text === 'max') return 'max';
  const match = /^(\d+)\s*([kmgt])?$/i.exec(text);
  if (!match) throw new BadValue('expected "max" or bytes such as 268435456, 256M or 1G');
  const bytes = Number(match[1]) * (match[2] ? SUFFIX[match[2].toLowerCase()] : 1);
  if (!Number.isSafeInteger(bytes)) throw new BadValue('too large');
  return bytes;
}

export function integerIn(raw: string, low: number, high: number): number {
  const text = raw.trim();
  if (!/^-?\d+$/.test(text) || Number(text) < low || Number(text) > high)
    throw new BadValue(`expected an integer in ${low}..${high}`);
  return Number(text);
}

export function pidsMax(raw: string): string {
  const text = raw.trim();
  if (text === 'max' || /^\d+$/.test(text)) return text;
  throw new BadValue('expected "max" or a non-negative integer');
}

const CPU_PERIOD_DEFAULT = 100_000;
/** cpu.max "QUOTA [PERIOD]" in µs, QUOTA "max" for no limit; the kernel wants quota ≥ 1000 and period in 1000..1000000. */
export function cpuMax(raw: string): { quota: 'max' | number; period: number } {
  const match = /^(max|\d+)(?:\s+(\d+))?$/.exec(raw.trim());
  if (!match) throw new BadValue('expected "QUOTA PERIOD" in microseconds, such as "50000 100000" or "max"');
  const period = match[2] === undefined ? CPU_PERIOD_DEFAULT : Number(match[2]);
  if (period < 1000 || period > 1_000_000) throw new BadValue('period must be in 1000..1000000 µs');
  if (match[1] === 'max') return { quota: 'max', period };
  const quota = Number(match[1]);
  if (quota < 1000) throw new BadValue('quota must be at least 1000 µs');
  return { quota, period };
}

/** cpuset lists: "0-3,6", or empty for "inherit nothing". A range runs upwards, as the kernel requires. */
export function cpuList(raw: string): string {
  const text = raw.trim();
  if (text !== '' && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) throw new BadValue('expected a list such as "0-3,6"');
  const backwards = cpuRanges(text).find(([low, high]) => high < low);
  if (backwards) throw new BadValue(`the range ${backwards[0]}-${backwards[1]} runs backwards`);
  return text;
}

/** The ranges of a list `cpuList` accepted: "0-3,6" → [[0, 3], [6, 6]]. */
export function cpuRanges(list: string): [number, number][] {
  if (list === '') return [];
  return list.split(',').map((part) => {
    const [low, high = low] = part.split('-').map(Number) as [number, number?];
    return [low, high];
  });
}

export function oneOf(raw: string, allowed: string[]): string {
  const text = raw.trim();
  if (!allowed.includes(text)) throw new BadValue(`expected one of ${allowed.join(', ')}`);
  return text;
}

/** io.weight: "N" or "default N" or "MAJ:MIN N", N in 1..10000. */
export function ioWeight(raw: string): { device?: string; weight: number } {
  const match = /^(?:(default|\d+:\d+)\s+)?(\d+)$/.exec(raw.trim());
  if (!match) throw new BadValue('expected "N", "default N" or "MAJ:MIN N"');
  const weight = integerIn(match[2], 1, 10_000);
  return match[1] && match[1] !== 'default' ? { device: match[1], weight } : { weight };
}

const IO_LIMIT_KEYS = ['rbps', 'wbps', 'riops', 'wiops'] as const;
/** io.max: "MAJ:MIN rbps=N wbps=N riops=N wiops=N" (any subset, N or max). */
export function ioMax(raw: string): {
  device: string;
  limits: Partial<Record<(typeof IO_LIMIT_KEYS)[number], string>>;
} {
  const [device, ...pairs] = raw.trim().split(/\s+/);
  if (!/^\d+:\d+$/.test(device ?? '') || pairs.length === 0)
    throw new BadValue('expected "MAJ:MIN rbps=N wbps=N riops=N wiops=N"');
  const limits: Partial<Record<(typeof IO_LIMIT_KEYS)[number], string>> = {};
  for (const pair of pairs) {
    const match = /^(rbps|wbps|riops|wiops)=(max|\d+)$/.exec(pair);
    if (!match) throw new BadValue(`"${pair}" is not one of rbps=, wbps=, riops=, wiops= with a number or max`);
    limits[match[1] as (typeof IO_LIMIT_KEYS)[number]] = match[2];
  }
  return { device, limits };
}
