/**
 * What every command shares: `--json`, the mapping of library errors to a message on stderr (or
 * `{"error": {...}}` under --json) and to the exit status of their class (README "Exit statuses").
 */
import { Command, Flags } from '@oclif/core';
import { formatPosition, RedpakError } from '../errors.js';
import { liveHostFacts } from '../system/host-facts.js';
import { onRecovery } from '../pkg/recovery-notices.js';
import type { HostFacts } from '../config/expand.js';

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

  protected warnLine(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`warning: ${message}\n`);
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    if (!(error instanceof RedpakError)) return super.catch(error);
    process.exitCode = error.exitCode;
    if (this.jsonEnabled()) {
      this.logJson({ error: error.toJSON() });
      if (error.code === 'interrupted') process.exit(error.exitCode);
      return undefined;
    }
    const where = error.at ? `${formatPosition(error.at)}: ` : '';
    process.stderr.write(`${this.config.bin}: error: ${where}${error.message}\n`);
    if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
    // An interrupted command ends now, even if an abandoned download still holds a socket open.
    if (error.code === 'interrupted') process.exit(error.exitCode);
    return undefined;
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
