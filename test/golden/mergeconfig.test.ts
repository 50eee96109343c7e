/**
 * Golden merged configurations (`redmanager mergeconfig --json`) for families described in
 * test/golden/data/families/*.yaml, in normal and admin mode. Temporary paths read <ROOT>.
 * Regenerate after a reviewed change: REDPAK_UPDATE_GOLDEN=1 npm test (then review the diff).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { mergeFamily } from '../../src/merge/merge.js';
import { loadFamily } from '../../src/node/load.js';
import { mergedConfigJson } from '../../src/inspect/mergeconfig.js';
import { makeNode, pinnedHost, tempDir } from '../helpers/family.js';

const DATA = new URL('../../../test/golden/data/', import.meta.url).pathname;
const update = process.env.REDPAK_UPDATE_GOLDEN === '1';

describe('mergeconfig --json golden files', () => {
  for (const file of readdirSync(join(DATA, 'families')).filter((f) => f.endsWith('.yaml'))) {
    const name = file.replace(/\.yaml$/, '');
    const spec = parse(readFileSync(join(DATA, 'families', file), 'utf8')) as Record<
      'root' | 'sub',
      { normal: string; admin?: string }
    >;
    for (const mode of ['normal', 'admin'] as const) {
      for (const expand of [false, true]) {
        const golden = join(DATA, 'mergeconfig', `${name}.${mode}${expand ? '.expanded' : ''}.json`);
        it(`${name} (${mode}${expand ? ', expanded' : ''})`, (t) => {
          const dir = tempDir(t);
          const host = pinnedHost();
          const root = makeNode(dir, join(dir, 'root'), 'ROOT', spec.root.normal, spec.root.admin, host);
          const sub = makeNode(dir, join(root, 'sub'), 'SUB', spec.sub.normal, spec.sub.admin, host);
          const family = loadFamily(sub, { admin: mode === 'admin' });
          const json = mergedConfigJson(family, mergeFamily(family, { host }), { expand, host });
          const actual = `${JSON.stringify(json, null, 2).replaceAll(dir, '<ROOT>')}\n`;
          if (update) writeFileSync(golden, actual);
          assert.ok(
            existsSync(golden),
            `missing golden file ${golden}: run REDPAK_UPDATE_GOLDEN=1 npm test and review it`,
          );
          assert.equal(actual, readFileSync(golden, 'utf8'));
        });
      }
    }
  }
});
