/**
 * Loads the bundles of dist/cli through V8's code cache: the functions V8 compiled in an earlier
 * run are reused instead of compiled again, which takes a third off a short command. The cache
 * (NAME.cjs.v8-cache) is written at exit when there is none, when V8 refused it (another Node,
 * another bundle), or when this run's command had not run since it was written: the cache grows
 * to the code of every command used, and is then left alone (writing it costs ~10 ms). A cache
 * that cannot be written only costs time. start.cjs loads the executables' bundles; a bundle loads
 * a part it seldom needs, the YAML library (dist/cli/yaml.cjs, src/config/yaml-library.ts), at its
 * first use, and that part's cache grows by the commands of the bundle that loaded it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { constants, Script } from 'node:vm';

/** Node's CommonJS loader internals used to register the bundle as an ordinary module. */
interface ModuleInternals {
  _cache: Record<string, Module>;
  _nodeModulePaths(dir: string): string[];
  wrap(source: string): string;
}
const internals = Module as unknown as ModuleInternals;

const bundleDir = join(__dirname, '../../cli');

/** The executable running, for messages, and what the bundle it loaded last says ran. */
let running: { bin: string; ran: () => string } | undefined;

/**
 * Evaluates dist/cli/NAME.cjs through its code cache; `ran` is asked at exit what ran, for the
 * cache to grow by it (without it, the cache is only read).
 */
function load(name: string, ran: ((exports: object) => string) | undefined): object {
  const file = join(bundleDir, `${name}.cjs`);
  const cacheFile = `${file}.v8-cache`;
  /** The commands whose code the cache holds. */
  const cachedCommandsFile = `${cacheFile}.json`;
  let cachedData: Buffer | undefined;
  let cachedCommands: string[] = [];
  try {
    cachedData = readFileSync(cacheFile);
    cachedCommands = JSON.parse(readFileSync(cachedCommandsFile, 'utf8')) as string[];
  } catch {
    cachedData = undefined;
  }
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    process.stderr.write(`${running?.bin ?? 'redpak'}: ${file} is missing: build the package first (npm run build)\n`);
    process.exit(1);
  }
  const script = new Script(internals.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // Registered in require's cache, so that oclif, requiring the bundle for its commands, gets this instance.
  const bundle = new Module(file, module);
  bundle.filename = file;
  bundle.paths = internals._nodeModulePaths(bundleDir);
  internals._cache[file] = bundle;
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    bundle.exports,
    bundle.exports,
    Module.createRequire(file),
    bundle,
    file,
    bundleDir,
  );
  bundle.loaded = true;

  if (ran === undefined) return bundle.exports;
  process.on('exit', () => {
    const command = ran(bundle.exports);
    const valid = cachedData !== undefined && !script.cachedDataRejected;
    if (valid && cachedCommands.includes(command)) return;
    const write = (path: string, data: string | Buffer) => {
      writeFileSync(`${path}.${process.pid}`, data);
      renameSync(`${path}.${process.pid}`, path);
    };
    try {
      write(cacheFile, script.createCachedData());
      write(cachedCommandsFile, JSON.stringify([...(valid ? cachedCommands : []), command]));
    } catch {
      /* read-only installation: no cache */
    }
  });
  return bundle.exports;
}

/**
 * Evaluates an executable's bundle, dist/cli/NAME.cjs, and returns its exports. `command` names
 * what ran (a function of the bundle's exports is asked at exit), for the cache to grow by it the first time.
 */
export function loadBundle(bin: string, name: string, command: string | ((exports: object) => string)): object {
  const ran = typeof command === 'string' ? () => command : command;
  let exports: object = {};
  running = { bin, ran: () => `${name} ${ran(exports)}` };
  exports = load(name, ran);
  return exports;
}

/**
 * Evaluates a part a bundle loads at first use, dist/cli/NAME.cjs, and returns its exports. Its
 * cache grows by the commands of the bundle start.cjs loaded last; a bundle loaded another way
 * (the tests' in-process runner) only reads it.
 */
export function loadPart(name: string): object {
  const loader = running;
  return load(name, loader && (() => loader.ran()));
}
