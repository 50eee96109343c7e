/**
 * The names of cached launch plans in the caller's cache directory (system/caller-cache.ts has
 * where it is and when it can be trusted; docs/launch-cache.md the format).
 */
import { statSync } from 'node:fs';

export interface PlanKey {
  dev: bigint;
  ino: bigint;
  admin: boolean;
  uid: number;
}

/** The node's identity for the cache: its device and inode (the plan inside holds its real path too). */
export function planKey(nodeHostPath: string, admin: boolean, uid: number): PlanKey {
  const st = statSync(nodeHostPath, { bigint: true });
  return { dev: st.dev, ino: st.ino, admin, uid };
}

/** The plan's file name in the cache directory; the launcher builds the same name. */
export function planFileName(key: PlanKey): string {
  return `node-${key.dev}-${key.ino}-${key.admin ? 'admin' : 'normal'}-${key.uid}.plan`;
}

/** A seccomp filter file of the plan (`fdfile` records name it; it lives beside the plan). */
export function seccompFileName(key: PlanKey, index: number): string {
  return planFileName(key).replace(/\.plan$/, `.seccomp-${index}.bpf`);
}
