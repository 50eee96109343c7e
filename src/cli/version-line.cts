/**
 * The line `--version` prints: oclif's user agent for the package (`NAME/VERSION PLATFORM-ARCH
 * node-NODEVERSION`). One place for start.cts, which answers a plain `--version` before any
 * bundle loads, and run.ts, which answers redwrap's (oclif answers it only for executables with
 * several commands); test/cli/start.test.ts compares it with oclif's own.
 */
export function versionLine(pjson: { name: string; version: string }): string {
  return `${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}`;
}
