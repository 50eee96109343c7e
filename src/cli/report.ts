/**
 * How a command reports a library error (README "Exit statuses"): the exit status of its class,
 * and the message with its file:line and hint on stderr, or `{"error": …}` on stdout under --json.
 * A quick start reports any other error (a defect) as oclif does (reportFailure).
 */
import { formatPosition, RedpakError } from '../errors.js';

export function reportError(
  bin: string,
  error: RedpakError,
  json: boolean,
  printJson: (document: unknown) => void = (document) => process.stdout.write(`${JSON.stringify(document, null, 2)}\n`),
): void {
  process.exitCode = error.exitCode;
  if (json) printJson({ error: error.toJSON() });
  else {
    const where = error.at ? `${formatPosition(error.at)}: ` : '';
    process.stderr.write(`${bin}: error: ${where}${error.message}\n`);
    if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
  }
  // An interrupted command ends now, even if an abandoned download still holds a socket open.
  if (error.code === 'interrupted') process.exit(error.exitCode);
}

/**
 * An error as an oclif command reports it: a library error by reportError; anything else (a
 * defect) as oclif's Command.catch does, and then its error handler, loaded only for this.
 */
export async function reportFailure(bin: string, error: unknown, json: boolean): Promise<void> {
  if (error instanceof RedpakError) {
    reportError(bin, error, json);
    return;
  }
  process.exitCode = process.exitCode ?? (error as { exitCode?: number } | undefined)?.exitCode ?? 1;
  if (json) {
    const document =
      error instanceof Error ? { error: { ...error, message: error.message, name: error.name } } : { error };
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    return;
  }
  const { Errors } = await import('@oclif/core');
  await Errors.handle(error as Error);
}
