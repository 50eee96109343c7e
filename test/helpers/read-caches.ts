/**
 * The read caches (src/inspect/tree-cache.ts, src/node/node-cache.ts) in tests: a cache directory
 * of the test's own, and what it holds.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { tempDir } from './family.js';

/** A cache directory as the caller's is (mode 0700, the caller's), for either read cache, removed after the test. */
export function ownCacheDir(t: TestContext): string {
  return mkdtempSync(join(tempDir(t, 'redpak-tree-cache-'), 'cache-'));
}

/** The cache files in `cacheDir` (one per family root walked). */
export function cacheFiles(cacheDir: string): string[] {
  return readdirSync(cacheDir)
    .filter((name) => /^tree-.*\.json$/.test(name))
    .map((name) => join(cacheDir, name));
}

/** The host paths of the nodes whose labels `cacheDir` holds. */
export function cachedNodes(cacheDir: string): string[] {
  return cacheFiles(cacheDir).flatMap((file) => Object.keys(JSON.parse(readFileSync(file, 'utf8')).nodes));
}

/** Waits until files written before the call are old enough to be recorded (system/cache-file.ts RACY_MARGIN_MS). */
export function olderThanTheClockMargin(): Promise<void> {
  return sleep(150);
}
