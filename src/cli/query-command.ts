/**
 * How redwrap-dnf's queries print from the command line — list, info, search, provides
 * (whatprovides), repoquery, check-update — and what each asks the library for. Both ways of
 * starting one call this module: the oclif commands (commands/redwrap-dnf/) and the quick start
 * (cli/quick-transaction.ts). It loads no oclif: the option declarations stay in the commands.
 */
import {
  type AvailableUpdate,
  checkUpdate,
  info,
  type ListedPackage,
  list,
  provides,
  repoquery,
  type SearchedPackage,
  type SearchMatch,
  search,
} from '../pkg/manager.js';
import { infoLines } from './pkg-ui.js';
import { type CommonFlagValues, commonOptions } from './common-options.js';

/** The values of the query commands' options, as parsed. */
export interface QueryFlagValues extends CommonFlagValues {
  installed?: boolean;
  available?: boolean;
  family?: boolean;
  all?: boolean;
  whatprovides?: string;
  whatrequires?: string;
  requires?: string;
  list?: boolean;
  info?: boolean;
  nevra?: boolean;
}

/**
 * `list --json`: `{packages: [{nevra, name, evr, arch, repo, summary, node?, size?}]}`. `repo` is
 * "@System" for an installed package, and `node` is then the node that owns it.
 */
export interface ListResult {
  packages: ListedPackage[];
}

/** `info --json`: `{packages: [{nevra, name, evr, arch, repo, node?, summary, description, license, url, size?, installsize, requires, provides}]}`. */
export interface InfoResult {
  packages: ListedPackage[];
}

/**
 * `search --json`: `{packages: [{nevra, name, evr, arch, repo, summary, node?, size?, matched}]}`,
 * `matched` one of "name-exact", "name-and-summary", "name", "summary", "description-or-url"
 * (best first, the order of the list).
 */
export interface SearchResult {
  packages: SearchedPackage[];
}

/** `provides --json`: `{packages: [{nevra, name, evr, arch, repo, summary, node?, size?}]}`. */
export interface ProvidesResult {
  packages: ListedPackage[];
}

/**
 * `repoquery --json`: `{packages: [{nevra, name, evr, arch, repo, node?, summary, …}], requires?: string[]}`;
 * `requires` only with --requires; each package has `files` with --list, and info's fields with --info.
 */
export interface RepoqueryResult {
  packages: ListedPackage[];
  requires?: string[];
}

/**
 * `check-update --json`: `{updates: [{nevra, name, evr, arch, repo, summary, size?, installed}]}`:
 * `evr` is the newest available version, `installed` the node's. Exit status 100 when the list
 * is not empty (as dnf's), 0 when it is.
 */
export interface CheckUpdateResult {
  updates: AvailableUpdate[];
}

/** dnf check-update's exit status when updates are available. */
export const UPDATES_AVAILABLE = 100;

/** Prints one line of a query's text (nothing under --json). */
type Print = (line: string) => void;

const SEARCH_SECTIONS: Record<SearchMatch, string> = {
  'name-exact': 'Name Exactly Matched',
  'name-and-summary': 'Name & Summary Matched',
  name: 'Name Matched',
  summary: 'Summary Matched',
  'description-or-url': 'Description & URL Matched',
};

/** Package arguments, or none for all. */
const specsOf = (args: string[]) => (args.length ? args : undefined);

/** `NAME.ARCH  EVR  WHERE` lines, in columns as dnf aligns them. */
function columns(packages: { name: string; arch: string; evr: string }[]) {
  const width = Math.max(10, ...packages.map((p) => `${p.name}.${p.arch}`.length)) + 2;
  const evrWidth = Math.max(8, ...packages.map((p) => p.evr.length)) + 2;
  return (p: { name: string; arch: string; evr: string }, where: string) =>
    `${`${p.name}.${p.arch}`.padEnd(width)}${p.evr.padEnd(evrWidth)}${where}`;
}

/** What each query command asks the library for, and prints, from its arguments and options. */
const QUERIES = {
  list: async (flags: QueryFlagValues, args: string[], print: Print): Promise<ListResult> => {
    const scope = flags.installed ? 'installed' : flags.available ? 'available' : flags.family ? 'family' : 'all';
    const packages = await list({ ...commonOptions(flags), scope, specs: specsOf(args) });
    const installed = packages.filter((p) => p.repo === '@System');
    const available = packages.filter((p) => p.repo !== '@System');
    const line = columns(packages);
    if (installed.length) {
      print(scope === 'family' ? 'Installed Packages (family view)' : 'Installed Packages');
      for (const p of installed) print(line(p, `@${p.node}`));
    }
    if (available.length) {
      print('Available Packages');
      for (const p of available) print(line(p, p.repo));
    }
    return { packages };
  },
  info: async (flags: QueryFlagValues, args: string[], print: Print): Promise<InfoResult> => {
    const packages = await info({ ...commonOptions(flags), specs: args });
    for (const p of packages) {
      print(p.repo === '@System' ? 'Installed Packages' : 'Available Packages');
      print(`${infoLines(p).join('\n')}\n`);
    }
    return { packages };
  },
  search: async (flags: QueryFlagValues, args: string[], print: Print): Promise<SearchResult> => {
    const packages = await search({ ...commonOptions(flags), terms: args, all: flags.all });
    let section: SearchMatch | undefined;
    for (const p of packages) {
      if (p.matched !== section) {
        section = p.matched;
        print(`${'='.repeat(8)} ${SEARCH_SECTIONS[section]}: ${args.join(', ')} ${'='.repeat(8)}`);
      }
      print(`${p.name}.${p.arch} : ${p.summary}`);
    }
    return { packages };
  },
  provides: async (flags: QueryFlagValues, args: string[], print: Print): Promise<ProvidesResult> => {
    const packages = await provides({ ...commonOptions(flags), what: args });
    for (const p of packages) {
      print(`${p.nevra} : ${p.summary}`);
      print(`Repo        : ${p.repo}${p.node ? ` (node ${p.node})` : ''}`);
      print('');
    }
    return { packages };
  },
  repoquery: async (flags: QueryFlagValues, args: string[], print: Print): Promise<RepoqueryResult> => {
    const result = await repoquery({
      ...commonOptions(flags),
      specs: specsOf(args),
      whatprovides: flags.whatprovides,
      whatrequires: flags.whatrequires,
      requires: flags.requires,
      installed: flags.installed,
      available: flags.available,
      details: flags.info,
      files: flags.list,
    });
    if (result.requires) for (const r of result.requires) print(r);
    else if (flags.list) for (const p of result.packages) for (const file of p.files ?? []) print(file);
    else if (flags.info) for (const p of result.packages) print(`${infoLines(p).join('\n')}\n`);
    else for (const p of result.packages) print(p.nevra);
    return result;
  },
  'check-update': async (flags: QueryFlagValues, args: string[], print: Print): Promise<CheckUpdateResult> => {
    const updates = await checkUpdate({ ...commonOptions(flags), specs: specsOf(args) });
    if (updates.length) {
      const line = columns(updates);
      print('');
      for (const p of updates) print(line(p, p.repo));
      process.exitCode = UPDATES_AVAILABLE;
    }
    return { updates };
  },
} satisfies Record<string, (flags: QueryFlagValues, args: string[], print: Print) => Promise<object>>;

export type QueryCommandId = keyof typeof QUERIES;

export function isQueryCommand(id: string): id is QueryCommandId {
  return Object.hasOwn(QUERIES, id);
}

/** Runs the query command `id` on its arguments, printing its text through `print`; returns its --json result. */
export function runQueryCommand<Id extends QueryCommandId>(
  id: Id,
  args: string[],
  flags: QueryFlagValues,
  print: Print,
): ReturnType<(typeof QUERIES)[Id]> {
  return QUERIES[id](flags, args, print) as ReturnType<(typeof QUERIES)[Id]>;
}
