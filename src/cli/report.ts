/**
 * How a command reports a library error (README "Exit statuses"): the exit status of its class,
 * and the message with its file:line and hint on stderr, or `{"error": …}` on stdout under --json.
 */
import { formatPosition, type RedpakError } from '../errors.js';

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
