#!/usr/bin/env node
/**
 * Imports upstream redpak's tests/basic reference plans into test/golden/data/redpak-launch-plans.json.
 *
 *   node scripts/import-upstream-references.mjs PATH-TO-A-RED-PAK-GIT-CLONE
 *
 * Reads every tests/basic/references/CONF1__CONF2 at the pinned commit (never the work tree), parses
 * the echoed configurations, the node creations, each `redwrap --dump-only` and what it printed (the
 * bwrap option lines of its DUMP, or its error lines), checks that each file has the five layouts in
 * normal and admin mode that test/golden/launch-plans.test.ts rebuilds, and writes the JSON sorted by
 * example name. The output is a fixture: never edit it by hand, rerun this script.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPOSITORY = 'https://github.com/redpesk-labs/red-pak';
/** "Version 2.5.1", 2025-10-28. */
const PIN = '459fc8727f02c35ba76fea3865d7668efa3d1d78';
const REFERENCES = 'tests/basic/references';
const OUTPUT = fileURLToPath(new URL('../test/golden/data/redpak-launch-plans.json', import.meta.url));
const LAYOUTS = ['node', 'rootnn', 'rootna', 'rootan', 'rootaa'];
const MODES = ['normal', 'admin'];
const RULE = '===================================';

const clone = process.argv[2];
if (!clone || process.argv.length > 3) {
  console.error('usage: node scripts/import-upstream-references.mjs PATH-TO-A-RED-PAK-GIT-CLONE');
  process.exit(2);
}

const git = (...args) => execFileSync('git', ['-C', clone, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });

try {
  git('cat-file', '-e', `${PIN}^{commit}`);
} catch {
  console.error(`${clone}: commit ${PIN} of ${REPOSITORY} is not there (fetch it first)`);
  process.exit(1);
}

/** Fails the import on anything this parser does not understand: the fixture must be complete. */
function fail(file, lineNo, why) {
  throw new Error(`${REFERENCES}/${file}:${lineNo}: ${why}`);
}

/** The configuration echoed under `== CONFn NAME`, up to the blank line the test prints after it. */
function readConf(file, lines, at, n) {
  const title = lines[at + 1]?.match(new RegExp(`^== CONF${n} (\\S+)$`));
  if (lines[at] !== RULE || !title || lines[at + 2] !== RULE) fail(file, at + 1, `expected the CONF${n} banner`);
  let end = at + 3;
  while (end < lines.length && lines[end] !== RULE) end += 1;
  const body = lines.slice(at + 3, end);
  if (body.at(-1) !== '') fail(file, end, `CONF${n} does not end with a blank line`);
  return { conf: { name: title[1], yaml: `${body.slice(0, -1).join('\n')}\n` }, next: end };
}

/** The `redconf create` commands a reference shows for each layout (test/golden/README.md). */
function expectedCreations(layout, conf1, conf2) {
  if (layout === 'node') return [`--alias NODE --config ${conf1} --config-adm ${conf2} node/${conf1}/${conf2}`];
  const pick = (kind, want, conf) => (kind === want ? conf : 'NULL');
  const [rootKind, subKind] = [layout[4], layout[5]];
  return [
    `--alias ROOT --config ${pick(rootKind, 'n', conf1)} --config-adm ${pick(rootKind, 'a', conf1)} ${layout}/${conf1}`,
    `--alias SUBNODE --config ${pick(subKind, 'n', conf2)} --config-adm ${pick(subKind, 'a', conf2)} ` +
      `${layout}/${conf1}/${conf2}`,
  ];
}

/**
 * One entry per bwrap option, its values on the same line (redpak's dump format). A value holding
 * a newline (an Execfd variable: the command's output) goes on over the next lines.
 */
function dumpLines(file, lines, start, end) {
  const args = [];
  for (let at = start; at < end; at += 1) {
    if (lines[at].startsWith('  --')) args.push(lines[at].slice(2));
    else if (args.length) args[args.length - 1] += `\n${lines[at]}`;
    else fail(file, at + 1, 'expected a bwrap option');
  }
  return args;
}

function parseReference(file, text) {
  const lines = text.split('\n');
  if (lines[0] !== '') fail(file, 1, 'expected a blank first line');
  const first = readConf(file, lines, 1, 1);
  const second = readConf(file, lines, first.next, 2);
  const [conf1, conf2] = [first.conf, second.conf];
  if (file !== `${conf1.name}__${conf2.name}`) fail(file, 1, `echoes ${conf1.name} and ${conf2.name}`);
  const leafOf = (layout) => `${layout}/${conf1.name}/${conf2.name}`;

  const cases = [];
  let at = second.next;
  for (const layout of LAYOUTS) {
    if (lines[at] !== RULE) fail(file, at + 1, `expected the ${layout} block`);
    at += 1;
    for (const creation of expectedCreations(layout, conf1.name, conf2.name)) {
      if (lines[at] !== `redconf create ${creation}`) fail(file, at + 1, `expected redconf create ${creation}`);
      at += 1;
    }
    for (const mode of MODES) {
      const command = `redwrap  ${mode === 'admin' ? '--admin ' : ''}--dump-only --redpath ${leafOf(layout)}`;
      if (lines[at] !== command) fail(file, at + 1, `expected ${command}`);
      at += 1;
      if (lines[at] === 'DUMP: /usr/bin/bwrap (as redwrap)') {
        at += 1;
        const start = at;
        while (at < lines.length && !lines[at].startsWith('redwrap ') && lines[at] !== RULE) at += 1;
        // The layout's closing blank line is not part of the dump.
        while (at > start && lines[at - 1] === '') at -= 1;
        cases.push({ layout, mode, args: dumpLines(file, lines, start, at) });
      } else if (lines[at]?.startsWith('[ERROR]:  ')) {
        const error = [];
        for (; lines[at]?.startsWith('[ERROR]:  '); at += 1) error.push(lines[at].slice('[ERROR]:  '.length));
        cases.push({ layout, mode, error });
      } else {
        fail(file, at + 1, 'expected a DUMP or an error');
      }
    }
    if (lines[at] !== '') fail(file, at + 1, 'expected the blank line ending a layout');
    at += 1;
  }
  if (lines.slice(at).some((line) => line !== '')) fail(file, at + 1, 'unexpected text after the last layout');
  return { name: file, conf1, conf2, cases };
}

const files = git('ls-tree', '--name-only', `${PIN}:${REFERENCES}`).split('\n').filter(Boolean).sort();
const examples = files.map((file) => parseReference(file, git('show', `${PIN}:${REFERENCES}/${file}`)));

const data = {
  _source: {
    repository: REPOSITORY,
    commit: PIN,
    path: REFERENCES,
    regenerate: 'node scripts/import-upstream-references.mjs PATH-TO-A-RED-PAK-GIT-CLONE',
    note:
      'Generated from the references upstream redpak records for tests/basic (redwrap --dump-only, ' +
      'its output with $PWD removed); never edited by hand. See test/golden/README.md.',
  },
  examples,
};
writeFileSync(OUTPUT, `${JSON.stringify(data, null, 1)}\n`);
console.log(`${examples.length} references of ${REPOSITORY} at ${PIN} → ${OUTPUT}`);
