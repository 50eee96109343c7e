/**
 * Bounds on one config or status file (docs/configuration.md, "Limits"). Node files are written
 * by whoever administers the node, and images come from elsewhere: a few hundred bytes of YAML
 * aliases must not cost gigabytes, nor a deep nesting the stack.
 */
import { RedpakError } from '../errors.js';

/** The variable that sets the size limit. */
export const CONFIG_BYTES_VARIABLE = 'REDPAK_MAX_CONFIG_BYTES';

/** The bounds. */
export interface ConfigLimits {
  /** Size of the file, checked before parsing (REDPAK_MAX_CONFIG_BYTES). */
  maxBytes: number;
  /** Alias references (`*name`) resolved in one file. */
  maxAliases: number;
  /** Nesting of mappings and lists. */
  maxDepth: number;
}

export const DEFAULT_CONFIG_LIMITS: ConfigLimits = { maxBytes: 1 << 20, maxAliases: 100, maxDepth: 32 };

/** The limits, with the size overridden by REDPAK_MAX_CONFIG_BYTES (a positive integer) when set. */
export function configLimits(env: Readonly<Record<string, string | undefined>>): ConfigLimits {
  const given = env[CONFIG_BYTES_VARIABLE];
  if (given === undefined || given === '') return DEFAULT_CONFIG_LIMITS;
  if (!/^[1-9][0-9]{0,12}$/.test(given)) {
    throw new RedpakError('usage', `${CONFIG_BYTES_VARIABLE}="${given}" is not a positive number of bytes`);
  }
  return { ...DEFAULT_CONFIG_LIMITS, maxBytes: Number(given) };
}

/** The limits as one word, for a cache of checked files: read under other limits, a file may give another answer. */
export function configLimitsKey(limits: ConfigLimits): string {
  return `${limits.maxBytes}:${limits.maxAliases}:${limits.maxDepth}`;
}

/** Refuses a text above the size limit, naming the file (callers with a file stat it first). */
export function assertConfigSize(size: number, file: string, limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): void {
  if (size > limits.maxBytes) {
    throw new RedpakError('schema', `${file} is ${size} bytes, above the limit of ${limits.maxBytes} for a node file`, {
      at: { file, line: 0, col: 0 },
      hint: 'node files are a few kilobytes; set REDPAK_MAX_CONFIG_BYTES to allow a larger one',
    });
  }
}
