/**
 * Generations: before a transaction is merged into a node, the node's state that the transaction
 * is about to change is kept — its rpm database, every file or link the transaction replaces or
 * deletes, and the list of paths it creates — in NODE/.redpak/generations/ID. Rolling back to a
 * generation undoes the transactions from the newest down to it, restoring exactly what was there.
 *
 * The last `keep` generations are kept, plus the newest one marked known-good (`markGood`), which
 * pruning never removes.
 *
 * Trust: NODE/.redpak/generations lies in the node, which anything running there (admin mode
 * included) can write. A link planted on the way to a generation (`.redpak`, `generations`, an
 * id, `saved`, `rpmdb`, `generation.json`), or on the way to a node path a rollback restores,
 * would make a rollback run by root read or write host files: every such way is checked to hold
 * no link (`assertNoLinkBelow`) before anything is read, removed or moved, and the metadata is
 * written by temp file and rename, never through a link.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { REDPAK_DIR } from '../node/layout.js';
import { assertNoLinkBelow } from '../node/load.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import { RPM_DBPATH } from './rpm.js';

export const GENERATIONS_DIR = `${REDPAK_DIR}/generations`;
export const DEFAULT_KEEP_GENERATIONS = 5;

export interface Generation {
  id: number;
  /** ISO date of the transaction that follows it. */
  time: string;
  /** The transaction it precedes, e.g. "install redhello". */
  command: string;
  /** History entry of that transaction, when it has one. */
  historyId?: number;
  /** Marked as known to work (`history good`). */
  good?: boolean;
  /** Node-relative paths the transaction created: removed on rollback, deepest first. */
  created: string[];
}

const META = 'generation.json';

/** NODE/.redpak/generations, refused when a link is on its way (see the trust note above). */
function generationsDir(node: string): string {
  const dir = join(node, GENERATIONS_DIR);
  assertNoLinkBelow(node, dir);
  return dir;
}

/** One generation's directory, or a path in it, with no link on the way from the node. */
function generationPath(node: string, id: number, ...rest: string[]): string {
  const path = join(generationsDir(node), String(id), ...rest);
  assertNoLinkBelow(node, path);
  return path;
}

export function listGenerations(node: string): Generation[] {
  const dir = generationsDir(node);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(
      (name) =>
        /^\d+$/.test(name) &&
        lstatSync(join(dir, name)).isDirectory() &&
        lstatSync(join(dir, name, META), { throwIfNoEntry: false })?.isFile(),
    )
    .map((name) => JSON.parse(readFileSync(join(dir, name, META), 'utf8')) as Generation)
    .sort((a, b) => a.id - b.id);
}

/** Writes a generation's metadata by temp file and rename: a planted link in its place is replaced, not followed. */
function writeMeta(dir: string, generation: Generation): void {
  writeFileAtomic(join(dir, META), `${JSON.stringify(generation, null, 2)}\n`, { exclusive: true });
}

function isWhiteout(path: string): boolean {
  const st = lstatSync(path);
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Every directory between `node` and `rel` is a real directory (no link on the way). */
function realDirectoriesTo(node: string, rel: string): boolean {
  const parts = rel.split('/').slice(0, -1);
  return parts.every((_, i) =>
    lstatSync(join(node, ...parts.slice(0, i + 1)), { throwIfNoEntry: false })?.isDirectory(),
  );
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Saves what merging `upper` into `node` will change. Called with the staged upper layer, before
 * the merge; throws (and leaves nothing behind) if the generation cannot be written. An `opaque`
 * directory replaces the node's: all of it is saved, and it counts as created. `removed` are the
 * node-relative paths a copy-up stage removes (it has no whiteouts): saved as whiteouts' are.
 */
export function recordGeneration(
  node: string,
  upper: string,
  meta: { command: string; historyId?: number },
  opaque: ReadonlySet<string> = new Set(),
  /** Where to write it (the merge moves it into place with the transaction); default its place. */
  into?: string,
  removed: readonly string[] = [],
): Generation {
  const all = listGenerations(node);
  const id = (all.at(-1)?.id ?? 0) + 1;
  const dir = into ?? generationPath(node, id);
  // What a killed run may have left under that name is not part of this generation.
  rmSync(dir, { recursive: true, force: true });
  const saved = join(dir, 'saved');
  const created: string[] = [];
  const db = join(upper, RPM_DBPATH);
  try {
    mkdirSync(saved, { recursive: true });
    const walk = (rel: string) => {
      for (const name of readdirSync(join(upper, rel))) {
        const r = rel ? `${rel}/${name}` : name;
        const src = join(upper, r);
        if (src === db) continue;
        const dest = join(node, r);
        const there = exists(dest);
        if (!isWhiteout(src) && lstatSync(src).isDirectory() && there && lstatSync(dest).isDirectory()) {
          if (!opaque.has(r)) {
            walk(r);
            continue;
          }
          created.push(r);
        }
        if (!there) {
          // A whiteout of something absent changes nothing.
          if (!isWhiteout(src)) created.push(r);
          continue;
        }
        mkdirSync(dirname(join(saved, r)), { recursive: true });
        cpSync(dest, join(saved, r), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      }
    };
    walk('');
    for (const r of removed) {
      const dest = join(node, r);
      // Only what the merge removes: never through a link, nor the database (kept whole below).
      if (
        !exists(dest) ||
        `/${r}` === RPM_DBPATH ||
        `/${r}`.startsWith(`${RPM_DBPATH}/`) ||
        !realDirectoriesTo(node, r)
      )
        continue;
      mkdirSync(dirname(join(saved, r)), { recursive: true });
      cpSync(dest, join(saved, r), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    }
    assertNoLinkBelow(node, join(node, RPM_DBPATH));
    if (existsSync(join(node, RPM_DBPATH))) cpSync(join(node, RPM_DBPATH), join(dir, 'rpmdb'), { recursive: true });
    const generation: Generation = {
      id,
      time: new Date().toISOString(),
      command: meta.command,
      ...(meta.historyId ? { historyId: meta.historyId } : {}),
      created,
    };
    writeMeta(dir, generation);
    return generation;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new RedpakError(
      'io',
      `cannot keep a generation of node ${node} before the transaction: ${(error as Error).message}`,
      {
        hint: 'nothing was changed; free some space in the node, or clean old generations with: redwrap-dnf history prune',
      },
    );
  }
}

/** Puts back one generation's saved state: the transaction that followed it is undone. */
function restore(node: string, generation: Generation): void {
  const dir = generationPath(node, generation.id);
  // Trust: generation.json lies in the node, which what runs there can write: a path leaving the
  // node is refused before anything is removed.
  const outside = generation.created.find(
    (rel) =>
      typeof rel !== 'string' ||
      rel === '' ||
      rel.startsWith('/') ||
      rel.split('/').some((c) => c === '..' || c === '' || c === '.'),
  );
  if (outside !== undefined) {
    throw new RedpakError(
      'io',
      `generation ${generation.id} of node ${node} names a path outside the node: ${String(outside)}`,
      {
        hint: `it was not written by redpak; remove ${dir} and roll back to another generation`,
      },
    );
  }
  // Nor may a link stand on the way to one of them, or to the database (checked before anything moves).
  for (const rel of generation.created) assertNoLinkBelow(node, dirname(join(node, rel)));
  assertNoLinkBelow(node, join(node, RPM_DBPATH));
  const saved = generationPath(node, generation.id, 'saved');
  const db = generationPath(node, generation.id, 'rpmdb');
  // Paths the transaction created go first, deepest first, so that saved files can take their place.
  for (const rel of [...generation.created].sort((a, b) => b.split('/').length - a.split('/').length))
    rmSync(join(node, rel), { recursive: true, force: true });
  // Both sides are walked by lstat: a directory is entered only when it is one, never through a link.
  const walk = (rel: string) => {
    for (const name of readdirSync(join(saved, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const src = join(saved, r);
      const dest = join(node, r);
      // A saved directory merges into the one in place; anything else replaces what is there.
      if (lstatSync(src).isDirectory() && exists(dest) && lstatSync(dest).isDirectory()) {
        walk(r);
        continue;
      }
      rmSync(dest, { recursive: true, force: true });
      mkdirSync(dirname(dest), { recursive: true });
      renameSync(src, dest);
    }
  };
  if (existsSync(saved)) walk('');
  // The database last, as the merge writes it last.
  if (existsSync(db)) {
    rmSync(join(node, RPM_DBPATH), { recursive: true, force: true });
    renameSync(db, join(node, RPM_DBPATH));
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Undoes the transactions that followed generation `id` (and itself), newest first. */
export function rollbackTo(node: string, id: number): Generation[] {
  const all = listGenerations(node);
  const target = all.find((g) => g.id === id);
  if (!target) {
    throw new RedpakError('package', `node ${node} has no generation ${id}`, {
      hint: `list them with: redwrap-dnf --redpath ${node} history generations`,
    });
  }
  const undone = all.filter((g) => g.id >= id).reverse();
  for (const generation of undone) restore(node, generation);
  return undone;
}

/** The rpm database directory a generation kept, if the node had one then. */
export function generationDatabase(node: string, id: number): string | undefined {
  const db = generationPath(node, id, 'rpmdb');
  return existsSync(db) ? db : undefined;
}

export function markGood(node: string, id: number): Generation {
  const generation = listGenerations(node).find((g) => g.id === id);
  if (!generation) throw new RedpakError('package', `node ${node} has no generation ${id}`);
  const updated = { ...generation, good: true };
  writeMeta(generationPath(node, id), updated);
  return updated;
}

/** Removes old generations: the last `keep` stay, and the newest known-good one. Returns the ids removed. */
export function pruneGenerations(node: string, keep = DEFAULT_KEEP_GENERATIONS): number[] {
  const all = listGenerations(node);
  const good = [...all].reverse().find((g) => g.good);
  const kept = new Set([...all.slice(Math.max(0, all.length - keep)).map((g) => g.id), ...(good ? [good.id] : [])]);
  const removed = all.filter((g) => !kept.has(g.id)).map((g) => g.id);
  for (const id of removed) rmSync(generationPath(node, id), { recursive: true, force: true });
  return removed;
}
