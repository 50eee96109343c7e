/**
 * Pure readers of the /proc files `redwrap ps` and `redwrap stop` use (proc(5)). Each takes the
 * file's text as read; running.ts does the reading.
 */

/** /proc/PID/stat: the state, the parent and the start time, in clock ticks after boot. */
export interface ProcStat {
  /** R, S, D, Z (a zombie: ended, not yet reaped)… */
  state: string;
  ppid: number;
  startTicks: number;
}

/**
 * The command name (field 2) is in parentheses and may itself hold spaces and `)`: the fields
 * after it are read from the last `)`, which a name cannot shift.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") ": state(3) ppid(4) … starttime(22).
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const ppid = Number(fields[1]);
  const startTicks = Number(fields[19]);
  if (!Number.isInteger(ppid) || !Number.isInteger(startTicks)) return undefined;
  return { state: fields[0], ppid, startTicks };
}

/** /proc/PID/cmdline: NUL-separated arguments (the last one NUL-terminated). */
export function parseCmdline(bytes: Buffer): string[] {
  const text = bytes.toString('utf8');
  if (!text) return [];
  return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
}

/** The real uid from /proc/PID/status (`Uid:\treal\teffective\tsaved\tfs`). */
export function parseStatusUid(text: string): number | undefined {
  const match = /^Uid:\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The real gid and the supplementary groups from /proc/PID/status (`Gid:` and `Groups:`), as the reader's user namespace sees them. */
export function parseStatusGroups(text: string): { gid: number; groups: number[] } | undefined {
  const gid = /^Gid:\s+(\d+)/m.exec(text);
  const groups = /^Groups:[ \t]*([\d \t]*)$/m.exec(text);
  if (!gid || !groups) return undefined;
  return { gid: Number(gid[1]), groups: groups[1].trim() ? groups[1].trim().split(/\s+/).map(Number) : [] };
}

/**
 * An id as a user namespace sees it, from the `inside outside count` lines of its
 * /proc/PID/uid_map or gid_map read from outside; undefined when the id is not mapped there.
 * The kernel accepts one write of a map, by the namespace's creator: it does not change after.
 */
export function idInside(outside: number, mapText: string): number | undefined {
  for (const line of mapText.split('\n')) {
    const fields = line.trim().split(/\s+/).map(Number);
    if (fields.length !== 3 || fields.some((n) => !Number.isInteger(n))) continue;
    const [inside, first, count] = fields;
    if (outside >= first && outside < first + count) return inside + (outside - first);
  }
  return undefined;
}

/** One line of /proc/PID/cgroup: hierarchy id, its controllers (empty for v2) and the path in it. */
export interface CgroupMembership {
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupMembership[] {
  const out: CgroupMembership[] = [];
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) out.push({ controllers: match[1] ? match[1].split(',') : [], path: match[2] });
  }
  return out;
}

/** The boot time (seconds since the epoch) from /proc/stat's `btime` line. */
export function parseBootTime(text: string): number | undefined {
  const match = /^btime\s+(\d+)$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}
