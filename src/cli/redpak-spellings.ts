/**
 * redpak's own executables, `redconf` and `redmicrodnf`, spelled as redpak users type them and run
 * by the commands of redmanager and redwrap-dnf: this module only rewrites their arguments.
 * redpak's argument parsers are described in docs/compatibility.md ("redpak's executables").
 *
 *   redconf [-v[N]] [-y|--yaml] [-l N] COMMAND …       config|mergeconfig|tree|create
 *   redmicrodnf [--redpath=P] [--forcenode] [--installrootnode=/] [OPTION…] COMMAND …
 */
import { join } from 'node:path';
import { RedpakError } from '../errors.js';

const usage = (bin: string, message: string) =>
  new RedpakError('usage', message, { hint: `'${bin} --help' lists the commands` });

interface Grammar {
  /** Option spellings that take a value, and what they become (undefined: dropped). */
  values: Record<string, ((value: string) => string[]) | undefined>;
  /** Flag spellings, and what they become. */
  flags: Record<string, string[]>;
}

/**
 * Reads getopt-style options (`-x V`, `-xV`, `--long V`, `--long=V`). The global ones stop at the
 * first word (redconf's `+` getopt), a command's are read around its words, as GNU getopt
 * permutes them; `--` ends them.
 */
function readOptions(
  bin: string,
  argv: readonly string[],
  grammar: Grammar,
  permute = false,
): { out: string[]; rest: string[] } {
  const out: string[] = [];
  const words: string[] = [];
  let i = 0;
  for (; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--') {
      i += 1;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (!permute) break;
      words.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg.startsWith('--') ? arg : arg.slice(0, 2);
    const attached = eq > 0 ? arg.slice(eq + 1) : !arg.startsWith('--') && arg.length > 2 ? arg.slice(2) : undefined;
    if (name in grammar.values) {
      let value = attached;
      if (value === undefined) {
        if (i + 1 >= argv.length) throw usage(bin, `option ${name} needs a value`);
        i += 1;
        value = argv[i];
      }
      out.push(...(grammar.values[name]?.(value) ?? []));
    } else if (name in grammar.flags && (attached === undefined || /^-[vy]$/.test(name) || name === '--verbose')) {
      out.push(...grammar.flags[name]);
    } else throw usage(bin, `unknown option ${arg}`);
  }
  return { out, rest: [...words, ...argv.slice(i)] };
}

/** redconf's global options: verbosity and log levels have no meaning here; --yaml is the default output. */
const REDCONF_GLOBAL: Grammar = {
  values: { '-l': undefined, '--log-yaml': undefined },
  flags: { '-v': [], '--verbose': [], '-y': [], '--yaml': [], '-h': ['--help'], '--help': ['--help'] },
};

/** redconf's arguments as redmanager's. */
export function redconfArgv(argv: readonly string[]): string[] {
  const global = readOptions('redconf', argv, REDCONF_GLOBAL);
  if (global.out.includes('--help') || global.rest.length === 0) return ['--help'];
  const [command, ...args] = global.rest;
  switch (command) {
    case 'config':
    case 'mergeconfig': {
      const expand: Record<string, string[]> =
        command === 'mergeconfig' ? { '-e': ['--expand'], '--expand': ['--expand'] } : {};
      const { out, rest } = readOptions(
        'redconf',
        args,
        {
          values: { '-r': (v) => ['--redpath', v], '--redpath': (v) => ['--redpath', v] },
          flags: { ...expand, '-h': ['--help'], '--help': ['--help'] },
        },
        true,
      );
      return [
        command,
        ...out,
        ...positional('redpath', rest, 1).flatMap((p) => ['--redpath', p]),
        ...defaultPath(out, rest, '--redpath'),
      ];
    }
    case 'tree': {
      const { out, rest } = readOptions(
        'redconf',
        args,
        {
          values: { '-r': (v) => ['--redroot', v], '--redroot': (v) => ['--redroot', v] },
          flags: { '-h': ['--help'], '--help': ['--help'] },
        },
        true,
      );
      return ['tree', ...out, ...positional('redroot', rest, 1).flatMap((p) => ['--redroot', p])];
    }
    case 'create':
      return redconfCreate(args);
    default:
      throw usage('redconf', `unknown command '${command}' (redconf's commands: config, mergeconfig, tree, create)`);
  }
}

/** `config [redpath]` defaults to the current directory, as redconf does. */
function defaultPath(out: readonly string[], rest: readonly string[], flag: string): string[] {
  return out.includes(flag) || rest.length > 0 || out.includes('--help') ? [] : [flag, '.'];
}

function positional(name: string, rest: readonly string[], max: number): string[] {
  if (rest.length > max) throw usage('redconf', `unexpected argument ${rest[max]} after the ${name}`);
  return [...rest];
}

/**
 * `create [redpath [redroot]]`: the node is the redpath below the redroot (default /, a leading /
 * of the redpath ignored, as redconf does), from the leaf templates unless told otherwise, and
 * never with a system node above it.
 */
function redconfCreate(args: readonly string[]): string[] {
  let redroot = '/';
  const setRoot = (v: string) => {
    redroot = v;
    return [];
  };
  const same = (flag: string) => (v: string) => [flag, v];
  const { out, rest } = readOptions(
    'redconf',
    args,
    {
      values: {
        '-a': same('--alias'),
        '--alias': same('--alias'),
        '-c': same('--config'),
        '--config': same('--config'),
        '-C': same('--config-admin'),
        '--config-adm': same('--config-admin'),
        '-m': undefined,
        '--model': undefined,
        '-n': same('--redpath'),
        '--node': same('--redpath'),
        '-R': setRoot,
        '--redroot': setRoot,
        '-t': same('--template-dir'),
        '--templates': same('--template-dir'),
      },
      flags: {
        '-f': [],
        '--full': [],
        '-l': [],
        '--leaf': [],
        '-r': [],
        '--root': [],
        '-u': ['--update'],
        '--update': ['--update'],
        '-h': ['--help'],
        '--help': ['--help'],
      },
    },
    true,
  );
  if (out.includes('--help')) return ['create-node', '--help'];
  const [redpath, givenRoot] = positional('redpath and redroot', rest, 2);
  if (givenRoot !== undefined) redroot = givenRoot;
  const node = redpath ?? optionValue(out, '--redpath');
  if (node === undefined) throw usage('redconf', 'redpath is missing');
  const others = out.filter((_, i) => out[i] !== '--redpath' && out[i - 1] !== '--redpath');
  return [
    'create-node',
    '--redpath',
    join(redroot, node),
    '--no-system-node',
    '--template',
    chosenTemplate(args),
    ...others,
  ];
}

/** -f, -l, -r and -m NAME each set both templates; the last one given wins, as with getopt (default leaf). */
function chosenTemplate(args: readonly string[]): string {
  const fixed: Record<string, string> = {
    '-f': 'full',
    '--full': 'full',
    '-l': 'leaf',
    '--leaf': 'leaf',
    '-r': 'root',
    '--root': 'root',
  };
  const takesValue = [
    '-a',
    '--alias',
    '-c',
    '--config',
    '-C',
    '--config-adm',
    '-n',
    '--node',
    '-R',
    '--redroot',
    '-t',
    '--templates',
  ];
  let template = 'leaf';
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === '--') break;
    if (fixed[arg]) template = fixed[arg];
    else if (arg === '-m' || arg === '--model') template = args[++i] ?? template;
    else if (arg.startsWith('--model=')) template = arg.slice('--model='.length);
    else if (arg.startsWith('-m') && !arg.startsWith('--')) template = arg.slice(2);
    else if (takesValue.includes(arg)) i += 1;
  }
  return template;
}

function optionValue(out: readonly string[], flag: string): string | undefined {
  const i = out.indexOf(flag);
  return i < 0 ? undefined : out[i + 1];
}

/**
 * redmicrodnf's arguments as redwrap-dnf's: the same grammar (options, then the command), where
 * `--installrootnode` may only be its default, `/`, and microdnf's options without meaning here
 * are accepted and dropped.
 */
export function redmicrodnfArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const [name, attached] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (name === '--installrootnode') {
      const value = attached ?? argv[++i];
      if (value !== '/')
        throw usage('redmicrodnf', `--installrootnode ${value ?? ''}: only / is supported (node paths are absolute)`);
      continue;
    }
    if (['--noplugins', '--best', '--nobest', '--nodocs'].includes(name) && attached === undefined) continue;
    out.push(arg);
  }
  return out;
}
