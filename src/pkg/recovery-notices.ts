/**
 * Where the notices of recovered transactions go (src/pkg/recovery.ts): to the listener the
 * command line sets (it prints them on stderr), else into a queue a library caller may read.
 * No imports: the CLI layer loads it at every start.
 */
export interface RecoveryNotice {
  /** Host path of the node. */
  node: string;
  /** completed: the interrupted merge was finished (new state); dropped: it had not been committed (old state). */
  outcome: 'completed' | 'dropped';
  message: string;
}

const queued: RecoveryNotice[] = [];
let listener: ((notice: RecoveryNotice) => void) | undefined;

export function reportRecovery(notice: RecoveryNotice): void {
  if (listener) listener(notice);
  else queued.push(notice);
}

/**
 * The notices of the recoveries done since the last call.
 * @public for library callers (the command line listens instead).
 */
export function takeRecoveryNotices(): RecoveryNotice[] {
  return queued.splice(0);
}

/** Sends every notice (the queued ones first) to `onNotice` as it happens. */
export function onRecovery(onNotice: (notice: RecoveryNotice) => void): void {
  listener = onNotice;
  for (const n of queued.splice(0)) onNotice(n);
}
