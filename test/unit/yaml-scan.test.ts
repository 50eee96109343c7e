/**
 * The fast reader of node files (src/config/yaml-scan.ts) against the YAML library's reading
 * (parse.ts `parseLocatedWithYaml`): on every text the reader accepts, the same values, the same
 * positions in the same order; on anything unusual or hostile, no answer (the full parser then
 * decides), never an accepted text the full parser refuses. Texts: the shipped templates, the
 * golden configs, what create-node and the canonical writer write, hand-written variants, and
 * some thousands of seeded random mutations of them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG_LIMITS } from '../../src/config/limits.js';
import { parseLocatedWithYaml, parseNodeConfig } from '../../src/config/parse.js';
import { serializeConfig } from '../../src/config/serialize.js';
import { type Located, scanLocated } from '../../src/config/yaml-scan.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';

const FILE = '/nodes/n/etc/redpak.yaml';
const scan = (text: string) => scanLocated(text, FILE, DEFAULT_CONFIG_LIMITS.maxDepth);

function fullRead(text: string): Located | Error {
  try {
    return parseLocatedWithYaml(text, FILE);
  } catch (error) {
    return error as Error;
  }
}

/** The reader's answer is no answer, or exactly the full parser's. Returns whether it answered. */
function agrees(text: string): boolean {
  const fast = scan(text);
  if (fast === undefined) return false;
  const full = fullRead(text);
  const shown = JSON.stringify(text);
  assert.ok(!(full instanceof Error), `the reader accepted ${shown}, which the full parser refuses: ${String(full)}`);
  assert.deepEqual(fast.value, full.value, shown);
  assert.deepEqual([...fast.valueAt], [...full.valueAt], `value positions of ${shown}`);
  assert.deepEqual([...fast.keyAt], [...full.keyAt], `key positions of ${shown}`);
  return true;
}

const templates = readdirSync(join(PACKAGE_ROOT, 'templates'))
  .filter((name) => name.endsWith('.yaml'))
  .map((name) => readFileSync(join(PACKAGE_ROOT, 'templates', name), 'utf8'));
const goldenDir = join(PACKAGE_ROOT, 'test/golden/data/redwrap-dump/configs');
const golden = readdirSync(goldenDir).map((name) => readFileSync(join(goldenDir, name), 'utf8'));
/** As create-node and `config` write them: the canonical writer's output. */
const canonical = templates.map((text) => serializeConfig(parseNodeConfig(text, FILE, 'normal')));
const status =
  'realpath: /var/redpak/a\ninfo: created by redmanager the 05-Dec-2026 11:32 (UTC)\ntimestamp: 1796470359189\nstate: Enable\n';
/** What redpak ships and writes: all of it within the fast reader's subset. */
const written = [...templates, ...canonical, status];
const corpus = [...written, ...golden];

describe('the fast reader of node files', () => {
  it('reads what redpak writes, exactly as the full parser does', () => {
    for (const text of written) assert.ok(agrees(text), `not read by the fast reader:\n${text}`);
    // Hand-written (flow lists among them): read alike, or left to the full parser.
    for (const text of golden) agrees(text);
  });

  it('reads the usual variants alike: comments, quoting, indented lists, spacing', () => {
    const variants = [
      'headers:\n  alias: a # the alias\n  name: "quoted"\n  info: \'single\'\n',
      '# leading comment\n\nheaders:\n    alias: a\n\n    # inside\n    name: b   \n',
      'exports:\n  - mode: Public\n    mount: /a\n  - mode: x\n',
      'exports:\n- mode: Public\n  mount: /a\n- mode: Private\n  mount: /b\nheaders:\n  alias: a\n',
      'config:\n  path: /a:/b:/c\n  hostname: $(hostname -s)\n  cgroups:\n    cpu:\n      weight: "100" # c\n',
      'seccomp:\n  default: allow\n  rules:\n    - action: errno\n      syscalls:\n        - ptrace\n        - bpf\n',
      '  headers:\n    alias: indented-root\n',
      'headers:\n  alias:   far\n',
      'key: value with  two spaces\n',
      'a: 1\nb: ~\nc: true\nd: null\ne: 0x1F\nf: 1e3\n',
      'ALIAS: upper\n',
      '- a\n- b\n',
      "x: tr -d '\"' | cut -d= -f2; a#b [c] {d} *e &f !g ?h <i> \\j\n",
    ];
    const read = variants.filter(agrees);
    assert.equal(read.length, variants.length, 'each of these is plain enough for the fast reader');
  });

  it('leaves everything unusual to the full parser', () => {
    const unusual = [
      'headers: {alias: flow}\n',
      'exports: [a, b]\n',
      'headers:\n  alias: &x a\n  name: *x\n',
      'headers:\n  alias: !!str a\n',
      'headers:\n  info: |\n    block\n',
      'headers:\n  info: >\n    folded\n',
      'headers:\n  alias: "esc\\taped"\n',
      "headers:\n  alias: 'it''s'\n",
      'headers:\n\talias: tab\n',
      'headers:\n  alias: a\r\n',
      '\ufeffheaders:\n  alias: bom\n',
      'headers:\n  alias: caf\u00e9\n',
      '---\nheaders:\n  alias: a\n',
      '%YAML 1.2\n---\nheaders:\n  alias: a\n',
      'headers:\n  alias: a\n...\n',
      'headers:\n  alias:\n',
      'headers:\n  alias: ""\n',
      'headers:\n  alias: multi\n    line\n',
      'headers:\n  "alias": quoted-key\n',
      'headers:\n  ? alias\n  : a\n',
      'headers:\n  alias: a\n   name: misaligned\n',
      'headers:\n  alias: a\n name: misaligned\n',
      'headers:\n  alias: a: b\n',
      'headers:\n  alias: a:\n',
      'headers:\n  alias:a\n',
      'headers :\n  alias: a\n',
      'exports:\n  -\n    mode: a\n',
      'exports:\n  - - nested\n',
      'exports:\n  -  mode: a\n',
      'plain\n',
      '# only a comment\n',
      '',
      'a: \u0000\n',
      '<<: *base\n',
      'headers:\n  alias: a\n  alias: b\n',
      'headers:\n  alias: a\n  ALIAS: b\n',
      'headers:\n  alias: a\nheaders:\n  name: b\n',
      'headers:\n  constructor: a\n',
      'x: [\n',
      'x: "unterminated\n',
      "x: 'a' 'b'\n",
      'x: "a"b\n',
      'x: `cmd`\n',
      'x: @at\n',
      'x: -dash\n',
      'x: {\n',
    ];
    for (const text of unusual) {
      assert.equal(scan(text), undefined, `the fast reader answered for ${JSON.stringify(text)}`);
    }
  });

  it('refuses nesting beyond the limit, as the full parser does', () => {
    let text = '';
    for (let depth = 0; depth <= DEFAULT_CONFIG_LIMITS.maxDepth + 1; depth += 1) text += `${' '.repeat(depth)}k:\n`;
    text += `${' '.repeat(DEFAULT_CONFIG_LIMITS.maxDepth + 2)}k: v\n`;
    assert.ok(fullRead(text) instanceof Error, 'control: the full parser refuses it');
    assert.equal(scan(text), undefined);
  });

  it('on thousands of random mutations of real files: no answer, or exactly the full parser’s', () => {
    // Characters YAML reads specially, and a few ordinary ones, inserted, deleted and replaced.
    const alphabet = [
      ' ',
      ' ',
      '\n',
      ':',
      '-',
      '#',
      '"',
      "'",
      '\t',
      '&',
      '*',
      '!',
      '{',
      '}',
      '[',
      ']',
      ',',
      '|',
      '>',
      'a',
      'A',
      '.',
      '%',
      '?',
      '~',
      '\\',
    ];
    let seed = 13;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let answered = 0;
    let total = 0;
    for (const base of corpus) {
      for (let round = 0; round < 250; round += 1) {
        let text = base;
        for (let edits = 1 + random(3); edits > 0; edits -= 1) {
          const at = random(text.length + 1);
          const char = alphabet[random(alphabet.length)] as string;
          const kind = random(3);
          text = text.slice(0, at) + (kind === 1 ? '' : char) + text.slice(kind === 0 ? at : at + 1);
        }
        total += 1;
        if (agrees(text)) answered += 1;
      }
    }
    // Most mutations stay plain YAML: the comparison really ran, on both sides of the line.
    assert.ok(answered > total / 5 && answered < total, `${answered} of ${total} read by the fast reader`);
  });
});
