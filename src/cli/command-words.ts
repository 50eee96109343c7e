/**
 * How redmanager and redwrap-dnf find the command in their arguments before oclif sees them.
 * redpak users write the options first (`redwrap-dnf --redpath P install x`) and dnf users after:
 * both work, because the command word is moved to the front. To step over option values, the
 * options that take one are read from the commands' own flag declarations (one place declares
 * them: the command). `help [COMMAND]` and `-h` are spelled as oclif wants them, and a word that
 * names no command is a usage error that suggests the closest one.
 */
import { closestWord } from '../closest-word.js';
import { RedpakError } from '../errors.js';

/** What this module reads of an oclif command class. */
export interface CommandShape {
  aliases?: string[];
  flags?: Record<string, { type: string; char?: string; aliases?: string[] } | undefined>;
}

export interface CommandWords {
  /** Command ids and their aliases. */
  words: ReadonlySet<string>;
  /** Every spelling of an option that takes a value, in any command (`--redpath`, `-r`, `--rp`). */
  valueOptions: ReadonlySet<string>;
  /** Spellings that take a value in some commands but not in these (words): `--config`. */
  flagIn: ReadonlyMap<string, ReadonlySet<string>>;
}

export function commandWords(commands: Readonly<Record<string, CommandShape>>): CommandWords {
  const words = new Set<string>();
  const valueOptions = new Set<string>();
  const flags: [string, string[]][] = [];
  for (const [id, command] of Object.entries(commands)) {
    const names = [id, ...(command.aliases ?? [])];
    for (const name of names) words.add(name);
    for (const [name, flag] of Object.entries(command.flags ?? {})) {
      if (!flag) continue;
      const spellings = [`--${name}`, ...(flag.char ? [`-${flag.char}`] : [])];
      for (const alias of flag.aliases ?? []) spellings.push(alias.length === 1 ? `-${alias}` : `--${alias}`);
      if (flag.type === 'option') for (const spelling of spellings) valueOptions.add(spelling);
      else for (const spelling of spellings) flags.push([spelling, names]);
    }
  }
  const flagIn = new Map<string, Set<string>>();
  for (const [spelling, names] of flags) {
    if (!valueOptions.has(spelling)) continue;
    const set = flagIn.get(spelling) ?? new Set<string>();
    for (const name of names) set.add(name);
    flagIn.set(spelling, set);
  }
  return { words, valueOptions, flagIn };
}

/** The arguments as oclif takes them: the command first, `help X` as `X --help`, `-h` as `--help`. */
export function orderArguments(bin: string, argv: readonly string[], known: CommandWords): string[] {
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  const rest = end < 0 ? [] : argv.slice(end);
  const spelled = options.map((arg, i) => (arg === '-h' && !takesValue(options, i, known) ? '--help' : arg));
  const at = firstWord(spelled, known);
  if (at < 0) {
    // Alone, these are the executable's own: its help and version.
    if (spelled.every((arg) => arg === '--help' || arg === '--version')) return [...spelled, ...rest];
    throw new RedpakError('usage', 'no command given', { hint: `'${bin} --help' lists the commands` });
  }
  const word = spelled[at];
  const others = [...spelled.slice(0, at), ...spelled.slice(at + 1)];
  if (word === 'help') {
    const topic = firstWord(others, known);
    if (topic < 0) return ['--help'];
    const command = others[topic];
    if (!known.words.has(command)) throw unknownCommand(bin, command, known);
    return [command, '--help'];
  }
  if (!known.words.has(word)) throw unknownCommand(bin, word, known);
  return [word, ...others, ...rest];
}

/** Whether argv[i] is the value of the option before it (`--redpath -h` names a node "-h"). */
function takesValue(argv: readonly string[], i: number, known: CommandWords): boolean {
  return i > 0 && optionTakes(argv[i - 1], argv[i], known);
}

/**
 * Whether `option` takes `next` as its value. A spelling that is a flag in some commands
 * (`--config` of check) and takes a value in others (`--config FILE` of create-node) is a flag
 * when the next word is a command where it is one, or another option.
 */
function optionTakes(option: string, next: string | undefined, known: CommandWords): boolean {
  if (!known.valueOptions.has(option)) return false;
  const flagIn = known.flagIn.get(option);
  return !(flagIn && next !== undefined && (next.startsWith('-') || flagIn.has(next)));
}

/** Index of the first argument that is neither an option nor an option's value; -1 if none. */
function firstWord(argv: readonly string[], known: CommandWords): number {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg.startsWith('-') && arg !== '-') {
      if (optionTakes(arg, argv[i + 1], known)) i += 1;
      continue;
    }
    return i;
  }
  return -1;
}

function unknownCommand(bin: string, word: string, known: CommandWords): RedpakError {
  const closest = closestWord(word, [...known.words]);
  const list = `'${bin} --help' lists the commands`;
  return new RedpakError('usage', `unknown command '${word}'`, {
    hint: closest ? `did you mean '${closest}'? (${list})` : list,
  });
}
