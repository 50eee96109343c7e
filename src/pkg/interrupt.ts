/**
 * Interruptions of a package transaction: the command line aborts the transaction's
 * AbortController with the signal's name as reason (src/cli/transaction-command.ts); the transaction
 * ends with an InterruptedError whose exit status is the shell's for that signal (130 for
 * SIGINT, 143 for SIGTERM).
 */
import { RedpakError } from '../errors.js';

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

export class InterruptedError extends RedpakError {
  constructor(
    readonly signalName: string | undefined,
    message: string,
    hint = 'run the command again',
  ) {
    super('interrupted', message, { hint });
  }

  override get exitCode(): number {
    return 128 + (SIGNAL_NUMBERS[this.signalName ?? ''] ?? 2);
  }
}

/** The signal name an AbortSignal was aborted with (the reason the CLI gives), if any. */
export function signalNameOf(signal: AbortSignal): string | undefined {
  return typeof signal.reason === 'string' && /^SIG[A-Z]+$/.test(signal.reason) ? signal.reason : undefined;
}

/**
 * `work`, or a rejection as soon as `signal` aborts: a download that never ends must not keep an
 * interrupted command waiting (the work itself is abandoned; the process ends with the command).
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal, interrupted: () => Error): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(interrupted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
