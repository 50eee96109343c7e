/** What `redwrap ps` and `redwrap stop` share on the command line: the node named, and the text view of a sandbox. */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RunningSandbox } from '../wrap/running.js';

/** A node as ps and stop compare it with a sandbox's mark: its real path (the text, if it is gone). */
export function nodeRealPath(given: string): string {
  const path = resolve(given);
  try {
    return realpathSync(path);
  } catch {
    return path; // removed meanwhile: its sandboxes may still run
  }
}

const size = (bytes: number | null) => (bytes === null ? '-' : `${(bytes / 1048576).toFixed(1)}M`);

/** One line per sandbox, under a header. */
export function sandboxTable(sandboxes: readonly RunningSandbox[]): string {
  const rows = [['PID', 'NODE', 'ALIAS', 'USER', 'STARTED', 'PROCS', 'MEM', 'PIDS', 'CGROUP', 'COMMAND']];
  for (const s of sandboxes) {
    rows.push([
      String(s.pid),
      s.node + (s.admin ? ' (admin)' : ''),
      s.alias ?? '-',
      s.user ?? String(s.uid),
      s.started.replace(/\.\d+Z$/, 'Z'),
      String(s.processes.length),
      size(s.cgroup?.memoryBytes ?? null),
      s.cgroup?.pids === null || s.cgroup === null ? '-' : String(s.cgroup.pids),
      s.cgroup?.path ?? '-',
      s.command.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' '),
    ]);
  }
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows
    .map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]))).join('  '))
    .join('\n');
}
