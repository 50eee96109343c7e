/**
 * A value the code around has already made sure exists (a key just set, a group its regular
 * expression always captures, a platform call Linux has): checked at run time rather than
 * asserted, so that a broken invariant fails here, by name, and not later on `undefined`.
 */
export function present<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`internal error: ${what} is missing`);
  return value;
}

/** The calling process's ids: Linux always has them, Node's types leave them optional (Windows). */
export const processIds = {
  uid: (): number => present(process.getuid, 'process.getuid').call(process),
  gid: (): number => present(process.getgid, 'process.getgid').call(process),
  euid: (): number => present(process.geteuid, 'process.geteuid').call(process),
};
