/**
 * What every command shares: `--json`, the mapping of library errors to a message on stderr (or
 * `{"error": {...}}` under --json) and to the exit status of their class (README "Exit statuses").
 */
import { Command, CommandHelp, Errors, Flags, type Interfaces } from '@oclif/core';
import { stripVTControlCharacters } from 'node:util';
import { RedpakError } from '../errors.js';
import { reportError } from './report.js';
import { liveHostFacts } from '../system/host-facts.js';
import { onRecovery } from '../pkg/recovery-notices.js';
import type { HostFacts } from '../config/expand.js';
import type { View } from './views.js';

export abstract class RedpakCommand extends Command {
  static override enableJsonFlag = true;

  /** The running system, as variable expansion sees it. */
  protected host(): HostFacts {
    return liveHostFacts();
  }

  protected override async init(): Promise<void> {
    await super.init();
    // A package transaction that a kill interrupted is completed or dropped by the next command: say so.
    onRecovery((notice) => process.stderr.write(`${this.config.bin}: ${notice.message}\n`));
  }

  private usageError(error: Errors.CLIError): RedpakError {
    // A single-command executable (redwrap) has a symbol for its id.
    const id = typeof this.id === 'string' ? this.id : undefined;
    const command = id === undefined ? undefined : this.config.findCommand(id);
    const usage = command ? `usage: ${new UsageLine(command, this.config).line()}; ` : '';
    return new RedpakError('usage', parserMessage(error), {
      hint: `${usage}'${this.config.bin}${id ? ` ${id}` : ''} --help' explains the arguments`,
      cause: error,
    });
  }

  /** Prints a view (cli/views.ts): its warnings, and its text unless --json; returns its --json result. */
  protected show<Result>(view: View<Result>): Result {
    for (const warning of view.warnings) this.warnLine(warning);
    if (view.text !== undefined) this.log(view.text);
    return view.result;
  }

  /**
   * oclif colours the JSON token by token (regular expressions over the whole text: ~50 ms for a
   * mergeconfig); without a theme (redpak sets none; a user's theme.json may) its output is this text.
   */
  override logJson(json: unknown): void {
    if (this.config.theme?.json) super.logJson(json);
    else process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }

  protected warnLine(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`warning: ${message}\n`);
  }

  protected override async catch(thrown: Error & { exitCode?: number }): Promise<unknown> {
    const error =
      thrown instanceof Errors.CLIError && !(thrown instanceof Errors.ExitError) ? this.usageError(thrown) : thrown;
    if (!(error instanceof RedpakError)) return super.catch(error);
    reportError(this.config.bin, error, this.jsonEnabled(), (document) => this.logJson(document));
    return undefined;
  }
}

/**
 * oclif's parser reports bad arguments as CLIError (exit 2). They become usage errors, so that they
 * read like every other error and `--json` gets the documented document, not oclif's internals.
 */
function parserMessage(error: Errors.CLIError): string {
  const lines = stripVTControlCharacters(error.message)
    .replace(/\nSee more help with --help$/, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^The following errors? occurred:$/.test(line));
  // "Parsing --lock-wait" / "Expected an integer but received: x"
  const parsing = /^Parsing (\S+)$/.exec(lines[0] ?? '');
  if (parsing && lines.length > 1) return `${parsing[1]}: ${lines.slice(1).join('; ')}`;
  return lines.join('\n');
}

/** A command's usage line, as its help shows it, on one line. */
class UsageLine extends CommandHelp {
  constructor(command: ConstructorParameters<typeof CommandHelp>[0], config: Interfaces.Config) {
    super(command, config, { stripAnsi: true, maxWidth: 10_000 } as Interfaces.HelpOptions);
  }

  line(): string {
    return stripVTControlCharacters(this.usage()).replace(/^\$ /, '').replace(/\s+/g, ' ').trim();
  }
}

export const redpathFlag = Flags.string({
  char: 'r',
  aliases: ['rpath', 'rp'],
  description: 'node directory (absolute, or relative to the current directory)',
  required: true,
});

export const sysrootFlag = Flags.string({
  description: 'work on an image being built: node paths are inside this directory, and expand as seen on the target',
  helpValue: 'SYSROOT',
});
