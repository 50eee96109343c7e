/**
 * One grammar for redwrap's command line on both launch paths: ONE table of argument vectors,
 * each expecting the program argv that runs or a usage error (exit 2), run against the fast
 * launcher (warm cache, REDWRAP_NO_FALLBACK: it serves the launch, or refuses without running
 * anything when it hands over) and against the full CLI (cache disabled).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { forgetCachedPlans, redwrap, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';
import { parseRedwrapArgv } from '../../src/cli/redwrap-argv.js';

const CONFIG = `headers:
  alias: argv
config:
  path: /usr/bin:/bin
exports:
${HOST_USR_EXPORTS}  - {mode: Procfs, mount: /proc}
  - {mode: Devfs, mount: /dev}
`;

/** printf '[%s]' prints each of its arguments in brackets: the program argv, exactly. */
const P = ['printf', '[%s]'];
type Expect = { runs: string[]; admin?: boolean; fast: boolean } | { usage: RegExp };

/** `L` stands for the node's path. `fast`: whether the fast launcher serves it itself. */
const TABLE: [string[], Expect][] = [
  [['--redpath', 'L', '--', ...P, 'one'], { runs: ['one'], fast: true }],
  [['--redpath', 'L', ...P, 'one'], { runs: ['one'], fast: true }],
  [['--redpath', 'L', '--', ...P, 'one', 'L'], { runs: ['one', 'L'], fast: true }],
  [['--redpath', 'L', ...P, 'L', '--redpath', 'L'], { runs: ['L', '--redpath', 'L'], fast: true }],
  [['--redpath', 'L', ...P, '--admin', '--', '-x'], { runs: ['--admin', '--', '-x'], fast: true }],
  [['--redpath', 'L', ...P, '--help', '--strict=yes'], { runs: ['--help', '--strict=yes'], fast: true }],
  [['-r', 'L', ...P, '-r'], { runs: ['-r'], fast: true }],
  [['--rp', 'L', ...P, 'rp'], { runs: ['rp'], fast: true }],
  [['--rpath=L', ...P, 'eq'], { runs: ['eq'], fast: true }],
  [['--redpath=L', '--', ...P, 'eq'], { runs: ['eq'], fast: true }],
  [['-a', '--redpath', 'L', ...P, 'admin'], { runs: ['admin'], admin: true, fast: true }],
  [['--redpath', 'L', '--admin', '--', ...P, 'admin'], { runs: ['admin'], admin: true, fast: true }],
  [['--redpath', 'L', '--force', ...P, 'forced'], { runs: ['forced'], fast: false }],
  [['--redpath', 'L', '--strict', '--', ...P, 'strict'], { runs: ['strict'], fast: false }],
  [['--redpath', 'L', '-v', ...P, 'verbose'], { runs: ['verbose'], fast: false }],
  [['--strict=yes', '--redpath', 'L', ...P, 'x'], { runs: ['x'], fast: false }],
  [['--redpath', 'L', '--strict', ...P, 'yes'], { runs: ['yes'], fast: false }],
  [['--redpath', 'L', '--force=no', ...P, 'x'], { runs: ['x'], fast: false }],
  [['--redpath', 'L', '--admin=/unused', ...P, 'x'], { runs: ['x'], admin: true, fast: false }],
  [['--strict=maybe', '--redpath', 'L', ...P, 'x'], { usage: /illegal boolean value 'maybe' for option --strict/ }],
  [['--redpath', 'L', '--verbose=loud', ...P, 'x'], { usage: /option --verbose takes a number/ }],
  [['--redpath', 'L', '--dump-only=no'], { usage: /option --dump-only takes no value/ }],
  [['--redpath', 'L', '--bogus', ...P, 'x'], { usage: /Nonexistent flag: --bogus/ }],
  [['--redpath', 'L', '-x', ...P], { usage: /Nonexistent flag: -x/ }],
  [['--redpath'], { usage: /option --redpath needs a value/ }],
  [['--redpath=', ...P, 'x'], { usage: /needs a non-empty value/ }],
  [['--redpath', 'L'], { usage: /no program to run/ }],
  [['--redpath', 'L', '--'], { usage: /no program to run/ }],
  [[...P, 'x'], { usage: /missing --redpath/ }],
];

describe('redwrap command line', () => {
  it('parses the table as the expectations say (the grammar itself)', () => {
    for (const [args, expect] of TABLE) {
      const argv = args.map((a) => a.replace(/^L$/, '/n').replace(/=L$/, '=/n'));
      if ('usage' in expect) {
        assert.throws(
          () => parseRedwrapArgv(argv),
          (error: Error & { code?: string }) => error.code === 'usage' && expect.usage.test(error.message),
          argv.join(' '),
        );
      } else {
        const parsed = parseRedwrapArgv(argv);
        assert.ok(!parsed.show);
        assert.deepEqual(parsed.command, [...P, ...expect.runs.map((a) => (a === 'L' ? '/n' : a))], argv.join(' '));
      }
    }
  });

  it('gives the same meaning on the fast path and on the full CLI', { skip: WITHOUT_FAST_LAUNCHER }, async (t) => {
    const dir = tempDir(t);
    const leaf = join(dir, 'n');
    makeNode(dir, leaf, 'argv', CONFIG, 'headers:\n  alias: argv\n');
    forgetCachedPlans(t, leaf);
    const subst = (args: string[]) => args.map((a) => (a === 'L' ? leaf : a.replace(/=L$/, `=${leaf}`)));
    for (const admin of [false, true]) {
      const warm = await redwrap(['--redpath', leaf, ...(admin ? ['--admin'] : []), '--', 'true']);
      assert.equal(warm.status, 0, warm.stderr);
    }
    for (const [args, expect] of TABLE) {
      const argv = subst(args);
      const what = argv.join(' ');
      const cli = await redwrap(argv, { env: { REDWRAP_NO_CACHE: '1' } });
      const fast = await redwrap(argv, { env: { REDWRAP_NO_FALLBACK: '1' } });
      if ('usage' in expect) {
        assert.equal(cli.status, 2, `${what}: ${cli.stderr}`);
        assert.match(cli.stderr, expect.usage, what);
        assert.equal(fast.status, 10, `${what}: the fast launcher hands a usage error over (${fast.stdout})`);
        assert.equal(fast.stdout, '', what);
        const fallback = await redwrap(argv);
        assert.equal(fallback.status, 2, what);
        assert.match(fallback.stderr, expect.usage, what);
        continue;
      }
      const printed = subst(expect.runs)
        .map((a) => `[${a}]`)
        .join('');
      assert.equal(cli.status, 0, `${what}: ${cli.stderr}`);
      assert.equal(cli.stdout, printed, `${what} (full CLI)`);
      if (expect.fast) {
        assert.equal(fast.status, 0, `${what}: ${fast.stderr}`);
        assert.equal(fast.stdout, printed, `${what} (fast path)`);
      } else {
        assert.equal(fast.status, 10, `${what}: an option only the full CLI serves`);
        assert.equal(fast.stdout, '', what);
      }
    }
  });
});
