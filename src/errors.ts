/**
 * One error type for the whole library. Every failure carries a stable code (for scripts and
 * exit statuses), a message that names the file/line, node or package at fault, and, where we
 * know one, a hint saying what to do next.
 */

export interface SourcePosition {
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** 1-based column, 0 when unknown. */
  col: number;
}

export type ErrorCode =
  | 'usage'
  | 'not-a-node'
  | 'node-disabled'
  | 'node-exists'
  | 'node-has-children'
  | 'yaml-syntax'
  | 'schema'
  | 'invalid-alias'
  | 'template-missing'
  | 'sysroot-missing'
  | 'expansion'
  | 'merge-conflict'
  | 'io'
  | 'tool-missing'
  | 'tool-failed'
  | 'package'
  | 'solver'
  | 'family-rule'
  | 'lock-busy'
  | 'launch'
  | 'interrupted';

/**
 * Exit statuses by class of failure, documented in README.md ("Exit statuses"). `redmanager check`
 * exits 20–27 for what it finds (src/audit/check.ts CHECK_EXIT_CODES): keep the two ranges apart.
 */
export const EXIT_CODES: Record<ErrorCode, number> = {
  usage: 2,
  'not-a-node': 3,
  'node-disabled': 3,
  'node-exists': 3,
  'node-has-children': 3,
  'yaml-syntax': 4,
  schema: 4,
  'invalid-alias': 4,
  'template-missing': 4,
  'sysroot-missing': 3,
  expansion: 4,
  'merge-conflict': 5,
  io: 1,
  'tool-missing': 6,
  'tool-failed': 6,
  package: 7,
  solver: 7,
  'family-rule': 8,
  'lock-busy': 9,
  launch: 10,
  // 128 + SIGINT; an interruption by SIGTERM exits 143 (src/pkg/interrupt.ts).
  interrupted: 130,
};

export class RedpakError extends Error {
  readonly code: ErrorCode;
  readonly at?: SourcePosition;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: { at?: SourcePosition; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RedpakError';
    this.code = code;
    this.at = options.at;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  /** The stable shape printed under `--json`: `{"error": toJSON()}`. */
  toJSON(): { code: ErrorCode; message: string; at?: SourcePosition; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.at ? { at: this.at } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
    };
  }
}

/** `file:line:col`, or less where the position is less precise. */
export function formatPosition(at: SourcePosition): string {
  return at.line && at.col ? `${formatLine(at)}:${at.col}` : formatLine(at);
}

/** `file:line` (the file alone for a whole-file position): how origins are named in messages. */
export function formatLine(at: { file: string; line?: number }): string {
  return at.line ? `${at.file}:${at.line}` : at.file;
}
