#!/usr/bin/env node
// Bundles each executable into dist/cli/BIN.cjs (esbuild), so that a run reads one file instead
// of resolving and evaluating hundreds of modules: start-up is most of a short command's time.
// The bundle exports the executable's commands as COMMANDS (redwrap: the launch as default, ps, stop
// and enter as OPERATIONS), each evaluated when first asked for, and `main`; dist/src/cli/start.cjs runs it through V8's code cache, which needs a CommonJS
// script. Run after tsc and build-validators (npm run build).
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist/cli');
rmSync(outdir, { recursive: true, force: true });

/** Command ids are file names; nested folders would be topics (none today). */
function commandEntry(bin) {
  const dir = `./dist/commands/${bin}`;
  // spelledAs: the name it was started under (redconf, redmicrodnf: src/cli/redpak-spellings.ts);
  // solver: a solver start.cjs started ahead for the command line (redwrap-dnf's queries).
  const runner = `import { runExecutable } from './dist/src/cli/run.js';\nexport function main(argv, spelledAs, solver) { return runExecutable('${bin}', argv, ${bin === 'redwrap' ? '{}' : 'COMMANDS'}, spelledAs, solver); }\n`;
  const files = readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.js') && f !== 'index.js')
    .sort();
  // Each command is evaluated when oclif asks for it (the table's getter requires its module, which
  // esbuild then initialises lazily, with whatever it imports that is not initialised yet): a run
  // evaluates its own command's code, not every command's. Their names and flags come from the
  // oclif manifest (src/cli/run.ts).
  const table = files.map((f) => `  get '${f.slice(0, -3)}'() { return require('${dir}/${f}').default; },`);
  // redwrap: the launch (index.js) is the default export, its operations (ps, stop, enter) OPERATIONS.
  const name = bin === 'redwrap' ? 'OPERATIONS' : 'COMMANDS';
  const launch = bin === 'redwrap' ? `export { default } from '${dir}/index.js';\n` : '';
  return `${launch}export const ${name} = {\n${table.join('\n')}\n};\n${runner}`;
}

/**
 * Node built-ins a quick start seldom calls, required at their first call instead of at start:
 * for tree, mergeconfig and --dump-only, child_process and crypto (some sixty internal modules:
 * streams, net, dgram, …); for a transaction, http and https (only a repository on a server
 * downloads) and readline (only a prompt). Each function they export becomes a function that
 * requires the module then calls it; importing anything else (a class, a constant) fails the
 * build, so a quick start never gets a stand-in that behaves differently.
 */
const lazyBuiltins = (filter) => ({
  name: 'lazy-builtins',
  setup(build) {
    build.onResolve({ filter }, (args) =>
      args.namespace === 'lazy-builtin'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'lazy-builtin' },
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (args) => {
      const real = await import(args.path);
      const functions = Object.keys(real).filter((name) => /^[a-z]/.test(name) && typeof real[name] === 'function');
      const wrappers = functions.map((name) => `export function ${name}(...args) { return load().${name}(...args); }`);
      const load = `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(args.path)}));`;
      return { contents: `${load}\n${wrappers.join('\n')}\n`, loader: 'js', resolveDir: root };
    });
  },
});
const LAZY_BUILTINS = {
  quick: /^node:(child_process|crypto)$/,
  'quick-dnf': /^node:(https?|readline)$/,
};

/**
 * The YAML library is a bundle of its own, dist/cli/yaml.cjs, loaded at its first use: node files
 * are read by src/config/yaml-scan.ts, so the commands that only read and show seldom need it, and
 * evaluating it took a tenth of their start-up (docs/architecture.md, "Start-up"). Each executable's
 * src/config/yaml-library.js is replaced by one that loads dist/cli/yaml.cjs through its code cache
 * (src/cli/bundle-loader.cts, which start.cjs has loaded), and hands out the library's own exports:
 * its classes and functions as they are, not stand-ins. Any other import of yaml fails the build,
 * so that no bundle holds a second copy.
 */
const YAML_LIBRARY_MODULE = /[\\/]dist[\\/]src[\\/]config[\\/]yaml-library\.js$/;
const BUNDLE_LOADER = '../src/cli/bundle-loader.cjs';
const yamlOnDemand = {
  name: 'yaml-on-demand',
  setup(build) {
    build.onResolve({ filter: /^yaml$/ }, (args) => ({
      errors: [{ text: `${args.importer} imports yaml: reach it through src/config/yaml-library.ts (yamlLibrary())` }],
    }));
    build.onResolve({ filter: /bundle-loader\.cjs$/ }, () => ({ path: BUNDLE_LOADER, external: true }));
    build.onLoad({ filter: YAML_LIBRARY_MODULE }, () => ({
      contents: `let loaded;\nexport function yamlLibrary() { return (loaded ??= require(${JSON.stringify(BUNDLE_LOADER)}).loadPart('yaml')); }\n`,
      loader: 'js',
    }));
  },
};

// The quick starts, without oclif: the commands that only read and show (src/cli/quick.ts), and
// redwrap-dnf's transactions (src/cli/quick-transaction.ts), which load oclif only to report a
// defect as oclif would.
const quickEntry = "export { runQuick as main } from './dist/src/cli/quick.js';\n";
const quickDnfEntry =
  "export { runQuickTransaction as main, ranCommand } from './dist/src/cli/quick-transaction.js';\n";
// A view shown before (src/cli/quick-view.ts), asked before the quick start is loaded.
const viewCacheEntry = "export { showCachedView as main } from './dist/src/cli/quick-view.js';\n";
const entries = [
  ...['redmanager', 'redwrap-dnf', 'redwrap'].map((bin) => [bin, commandEntry(bin)]),
  ['quick', quickEntry],
  ['quick-dnf', quickDnfEntry],
  ['view-cache', viewCacheEntry],
];
for (const [bin, contents] of entries) {
  await build({
    stdin: { contents, resolveDir: root, sourcefile: `${bin}-entry.js` },
    outfile: join(outdir, `${bin}.cjs`),
    plugins: [yamlOnDemand, ...(LAZY_BUILTINS[bin] ? [lazyBuiltins(LAZY_BUILTINS[bin])] : [])],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // oclif looks for typescript only to run commands from .ts sources (development mode).
    // The quick starts load oclif only to report a defect as oclif would (src/cli/report.ts reportFailure).
    external: ['typescript', ...(bin === 'quick-dnf' || bin === 'quick' ? ['@oclif/core'] : [])],
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    // The sources are ES modules: their import.meta.url is the bundle's own URL.
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
}
// The YAML library's own bundle (yamlOnDemand above), from its ES module build: its named exports.
await build({
  stdin: {
    contents: "export * from './node_modules/yaml/browser/index.js';\n",
    resolveDir: root,
    sourcefile: 'yaml-entry.js',
  },
  outfile: join(outdir, 'yaml.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
