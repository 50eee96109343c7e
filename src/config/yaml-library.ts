/**
 * The YAML library, loaded at its first use. Node files are read by config/yaml-scan.ts, so the
 * commands that only read and show seldom need the library (a text the scanner declines, an
 * error's position, mergeconfig's YAML output); loading it costs them a tenth of their start-up.
 * Every module of src/ reaches it through this one (scripts/build-bundles.mjs refuses any other
 * import of it): the executables' bundles replace this module with one that loads the library's
 * own bundle, dist/cli/yaml.cjs, through the code cache (src/cli/bundle-loader.cts). What it
 * returns is the library itself, its classes and functions as they are.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | undefined;

export function yamlLibrary(): typeof Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return loaded;
}
