/**
 * A FAKE cgroup v2 filesystem in a temporary directory (test helper). It exists because this
 * project's CI machine runs hybrid cgroups: its v2 hierarchy has no controllers, so memory.max,
 * pids.max or cgroup.subtree_control "+memory" cannot be exercised for real. The fake mimics the
 * kernel behaviours the v2 writer depends on:
 *  - mkdir populates a cgroup with the interface files of the controllers its parent enables;
 *    writing a file that does not exist fails with ENOENT (cgroup files cannot be created);
 *  - cgroup.subtree_control accepts only controllers listed in cgroup.controllers (ENOENT);
 *  - "no internal processes": a non-root cgroup cannot both hold processes and enable
 *    controllers for its children (EBUSY), in either order;
 *  - writing a pid to cgroup.procs moves it out of its previous cgroup;
 *  - cpuset.cpus rejects CPUs the machine does not have, memory.max non-numbers (EINVAL);
 *  - rmdir fails with EBUSY while the cgroup holds processes or child cgroups;
 *  - a path given to `deny` is not writable (access(2) W_OK fails): a cgroup not delegated to the caller.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CgroupFs } from '../../src/wrap/cgroups-apply.js';

const CONTROLLER_FILES: Record<string, string[]> = {
  cpuset: ['cpuset.cpus', 'cpuset.mems', 'cpuset.cpus.partition'],
  cpu: ['cpu.max', 'cpu.weight', 'cpu.weight.nice'],
  io: ['io.max', 'io.weight'],
  memory: [
    'memory.max',
    'memory.high',
    'memory.min',
    'memory.low',
    'memory.swap.max',
    'memory.swap.high',
    'memory.oom.group',
  ],
  pids: ['pids.max'],
};
const MACHINE_CPUS = new Set([0, 1]);

function kernelError(code: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: fake cgroupfs refused, '${path}'`);
  error.code = code;
  return error;
}

function words(file: string): string[] {
  return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
}

export class FakeCgroupV2 implements CgroupFs {
  private readonly cgroupOf = new Map<string, string>();
  private readonly denied = new Set<string>();

  /** `root` becomes a delegated (non-root) cgroup offering `controllers` and holding `pids`. */
  constructor(
    readonly root: string,
    controllers: string[] = ['cpuset', 'cpu', 'io', 'memory', 'pids'],
    pids: number[] = [],
  ) {
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'cgroup.controllers'), controllers.join(' '));
    writeFileSync(join(root, 'cgroup.subtree_control'), '');
    writeFileSync(join(root, 'cgroup.type'), 'domain');
    writeFileSync(join(root, 'cgroup.procs'), '');
    for (const pid of pids) this.enter(root, String(pid));
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  read(file: string): string {
    return readFileSync(file, 'utf8');
  }

  mkdir(dir: string): void {
    if (existsSync(dir)) throw kernelError('EEXIST', dir);
    const enabled = words(join(dirname(dir), 'cgroup.subtree_control'));
    mkdirSync(dir);
    writeFileSync(join(dir, 'cgroup.controllers'), enabled.join(' '));
    writeFileSync(join(dir, 'cgroup.subtree_control'), '');
    writeFileSync(join(dir, 'cgroup.type'), 'domain');
    writeFileSync(join(dir, 'cgroup.procs'), '');
    for (const controller of enabled)
      for (const file of CONTROLLER_FILES[controller] ?? []) writeFileSync(join(dir, file), '');
  }

  write(file: string, value: string): void {
    if (!existsSync(file)) throw kernelError('ENOENT', file);
    const dir = dirname(file);
    switch (basename(file)) {
      case 'cgroup.subtree_control': {
        const offered = words(join(dir, 'cgroup.controllers'));
        const enabled = new Set(words(file));
        for (const change of value.split(/\s+/).filter(Boolean)) {
          if (!offered.includes(change.slice(1))) throw kernelError('ENOENT', file);
          if (change.startsWith('+')) enabled.add(change.slice(1));
          else enabled.delete(change.slice(1));
        }
        if (enabled.size > 0 && words(join(dir, 'cgroup.procs')).length > 0) throw kernelError('EBUSY', file);
        writeFileSync(file, [...enabled].join(' '));
        return;
      }
      case 'cgroup.procs':
        if (words(join(dir, 'cgroup.subtree_control')).length > 0) throw kernelError('EBUSY', file);
        this.enter(dir, value.trim());
        return;
      case 'cpuset.cpus':
        for (const range of value.split(',').filter(Boolean)) {
          const [low, high = low] = range.split('-').map(Number);
          for (let cpu = low; cpu <= high; cpu++) if (!MACHINE_CPUS.has(cpu)) throw kernelError('EINVAL', file);
        }
        break;
      case 'memory.max':
        if (!/^(max|\d+)$/.test(value)) throw kernelError('EINVAL', file);
        break;
    }
    writeFileSync(file, value);
  }

  /** Makes `path` unwritable for the caller, as a cgroup another user owns. */
  deny(path: string): void {
    this.denied.add(path);
  }

  writable(path: string): boolean {
    return existsSync(path) && !this.denied.has(path);
  }

  hasChildren(dir: string): boolean {
    return readdirSync(dir, { withFileTypes: true }).some((entry) => entry.isDirectory());
  }

  /** A listed process is a running one here: the fake has no exiting state. */
  isAlive(_pid: string): boolean {
    return true;
  }

  rmdir(dir: string): void {
    if (!existsSync(dir)) throw kernelError('ENOENT', dir);
    const children = readdirSync(dir).filter((name) => statSync(join(dir, name)).isDirectory());
    if (children.length > 0 || words(join(dir, 'cgroup.procs')).length > 0) throw kernelError('EBUSY', dir);
    rmSync(dir, { recursive: true });
  }

  /** Simulates a process exiting. */
  exit(pid: number): void {
    const dir = this.cgroupOf.get(String(pid));
    if (dir)
      writeFileSync(
        join(dir, 'cgroup.procs'),
        words(join(dir, 'cgroup.procs'))
          .filter((p) => p !== String(pid))
          .join('\n'),
      );
    this.cgroupOf.delete(String(pid));
  }

  /** Directories below the root, relative to it, for assertions. */
  tree(dir = this.root, prefix = ''): string[] {
    return readdirSync(dir)
      .filter((name) => statSync(join(dir, name)).isDirectory())
      .flatMap((name) => [prefix + name, ...this.tree(join(dir, name), `${prefix}${name}/`)]);
  }

  private enter(dir: string, pid: string): void {
    const previous = this.cgroupOf.get(pid);
    if (previous)
      writeFileSync(
        join(previous, 'cgroup.procs'),
        words(join(previous, 'cgroup.procs'))
          .filter((p) => p !== pid)
          .join('\n'),
      );
    writeFileSync(join(dir, 'cgroup.procs'), [...words(join(dir, 'cgroup.procs')), pid].join('\n'));
    this.cgroupOf.set(pid, dir);
  }
}
