/**
 * Comments cite the documents of this repository, and only those: every `docs/<file>.md` cited in
 * src/, commands/, test/, scripts/, bench/ and templates/ exists, with the section it names, and no
 * file cites a document that is not in the repository. Sections are cited by heading, as
 * `docs/<file>.md, "Heading"` (also `("Heading")` or `"Heading"` after the name; whole words of
 * the heading are enough, and further `, "Heading"` are checked too) or by GitHub anchor,
 * `docs/<file>.md#anchor`. The relative links of docs/ and README.md are checked the same way.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';

/** Folders whose files may cite documents. */
const CITING_DIRS = ['src', 'commands', 'test', 'scripts', 'bench', 'templates'];
const SCANNED_EXTENSIONS = new Set('.ts .cts .mts .js .mjs .cjs .c .h .py .sh .yaml .yml .md .json'.split(' '));
/**
 * Notes kept outside the repository, which a maintainer cannot follow. Written in two parts so
 * that this file does not cite them itself.
 */
const OUTSIDE_DOCUMENTS = [
  ['redpak-', 'semantics'],
  ['toolchain', '.md'],
  ['design-', 'sketch'],
  ['golden-', 'examples'],
].map((parts) => parts.join(''));
/** Section numbers belong to outside documents: this repository's are cited by heading. */
const SECTION_SIGN = '\u00a7';

interface Citation {
  doc: string;
  sections: string[];
  anchor?: string;
  line: number;
}

/** `docs/<file>.md`, then an optional `#anchor` or quoted heading (possibly on the next comment line). */
const CITATION =
  /docs\/([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+)|,?[ \t]*(?:\n[ \t]*(?:\*|\/\/|#)?[ \t]*)?\(?"([^"\n]+)")?/g;
const MORE_SECTIONS = /^,[ \t]*"([^"\n]+)"/;

function citationsIn(text: string): Citation[] {
  const found: Citation[] = [];
  for (const match of text.matchAll(CITATION)) {
    const sections = match[3] === undefined ? [] : [match[3]];
    let rest = text.slice((match.index ?? 0) + match[0].length);
    for (let more = MORE_SECTIONS.exec(rest); more; more = MORE_SECTIONS.exec(rest)) {
      sections.push(more[1]);
      rest = rest.slice(more[0].length);
    }
    const line = text.slice(0, match.index ?? 0).split('\n').length;
    found.push({ doc: match[1], sections, ...(match[2] === undefined ? {} : { anchor: match[2] }), line });
  }
  return found;
}

/** A heading as read: markdown emphasis and code marks dropped. */
function headingText(raw: string): string {
  return raw.replace(/[`*_]/g, '').trim();
}

function headingsOf(markdown: string): string[] {
  return namedParts(markdown, /^#{1,6}\s+(.*)$/);
}

/** What a citation may name: the headings, and the bold labels that open list items (`- **launch proof** …`). */
function sectionsOf(markdown: string): string[] {
  return [...headingsOf(markdown), ...namedParts(markdown, /^\s*[-*]\s+\*\*([^*]+)\*\*/)];
}

function namedParts(markdown: string, pattern: RegExp): string[] {
  let fenced = false;
  const names: string[] = [];
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const named = pattern.exec(line);
    if (named && !fenced) names.push(headingText(named[1]));
  }
  return names;
}

/** GitHub's anchors: lower case, punctuation dropped, spaces as `-`, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const heading of headingsOf(markdown)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count ? `${slug}-${count}` : slug);
  }
  return anchors;
}

/** A cited heading is a heading, or whole words of one ("Limits" for "Limits on node files"). */
function namesHeading(cited: string, headings: readonly string[]): boolean {
  const wanted = headingText(cited).toLowerCase();
  const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
  return headings.some((heading) => {
    const text = heading.toLowerCase();
    for (let at = text.indexOf(wanted); at >= 0; at = text.indexOf(wanted, at + 1)) {
      if (!isWordChar(text[at - 1]) && !isWordChar(text[at + wanted.length])) return true;
    }
    return false;
  });
}

/** What is wrong with the citations of one file's text, one message per problem. */
function citationProblems(text: string, readDoc: (name: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const citation of citationsIn(text)) {
    const doc = readDoc(citation.doc);
    const where = `line ${citation.line}: docs/${citation.doc}`;
    if (doc === undefined) {
      problems.push(`${where} does not exist`);
      continue;
    }
    const sections = sectionsOf(doc);
    for (const section of citation.sections) {
      if (!namesHeading(section, sections)) problems.push(`${where} has no section "${section}"`);
    }
    if (citation.anchor !== undefined && !anchorsOf(doc).has(citation.anchor)) {
      problems.push(`${where} has no anchor #${citation.anchor}`);
    }
  }
  text.split('\n').forEach((line, index) => {
    for (const name of OUTSIDE_DOCUMENTS) {
      if (line.includes(name)) problems.push(`line ${index + 1}: cites ${name}, which is not in the repository`);
    }
    if (line.includes(SECTION_SIGN)) {
      problems.push(
        `line ${index + 1}: a numbered section (${SECTION_SIGN}) of a document that is not in the repository`,
      );
    }
  });
  return problems;
}

/** Relative markdown links to `.md` files, with their anchor. */
const LINK = /\]\(([A-Za-z0-9_./-]+\.md)?(?:#([A-Za-z0-9_-]+))?\)/g;

function linkProblems(markdown: string, readSibling: (name: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const match of markdown.matchAll(LINK)) {
    const [, target, anchor] = match;
    if (target === undefined && anchor === undefined) continue;
    const line = markdown.slice(0, match.index ?? 0).split('\n').length;
    const doc = target === undefined ? markdown : readSibling(target);
    if (doc === undefined) problems.push(`line ${line}: ${target} does not exist`);
    else if (anchor !== undefined && !anchorsOf(doc).has(anchor))
      problems.push(`line ${line}: ${target ?? ''}#${anchor} does not exist`);
  }
  return problems;
}

function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && SCANNED_EXTENSIONS.has(extname(entry.name)))
    .map((entry) => join(entry.parentPath, entry.name));
}

function readIfExists(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

const readRepoDoc = (name: string) => readIfExists(join(PACKAGE_ROOT, 'docs', name));

// Samples are assembled at run time so that this file's own text cites nothing that is not there.
const D = 'docs/';
const sampleDocs: Record<string, string> = {
  'guide.md':
    '# Guide\n\n## Merge across the family\n\n```\n# not a heading\n```\n\n' +
    "## `bwrap`'s path\n\n## Again\n\n## Again\n\n" +
    '- **launch proof** (a labelled part): text\n- not **a label**\n',
};
const readSample = (name: string) => sampleDocs[name];

describe('doc citations: the rule', () => {
  it('finds every citation form, on one line or across a comment break', () => {
    const text = [
      `// see ${D}guide.md, "Merge across"`,
      ` * (${D}guide.md ("Merge across the family"), more)`,
      `# kept as ${D}guide.md,`,
      `# "Again"`,
      `(${D}guide.md#bwraps-path) and ${D}guide.md, "Again", "Merge"`,
      `plain ${D}guide.md.`,
    ].join('\n');
    assert.deepEqual(
      citationsIn(text).map((c) => [c.doc, c.sections, c.anchor, c.line]),
      [
        ['guide.md', ['Merge across'], undefined, 1],
        ['guide.md', ['Merge across the family'], undefined, 2],
        ['guide.md', ['Again'], undefined, 3],
        ['guide.md', [], 'bwraps-path', 5],
        ['guide.md', ['Again', 'Merge'], undefined, 5],
        ['guide.md', [], undefined, 6],
      ],
    );
  });

  it('accepts a heading, whole words of it, a list label or an anchor; refuses the rest', () => {
    const good = `${D}guide.md, "merge across" ${D}guide.md#again-1 ${D}guide.md, "Again" ${D}guide.md ("the family")`;
    assert.deepEqual(citationProblems(`${good} ${D}guide.md "Launch proof"`, readSample), []);
    assert.deepEqual(citationProblems(`${D}guide.md, "a label"`, readSample), [
      `line 1: ${D}guide.md has no section "a label"`,
    ]);
    assert.deepEqual(citationProblems(`(${D}guide.md, "Merge acr")`, readSample), [
      `line 1: ${D}guide.md has no section "Merge acr"`,
    ]);
    assert.deepEqual(citationProblems(`${D}guide.md, "not a heading"`, readSample), [
      `line 1: ${D}guide.md has no section "not a heading"`,
    ]);
    assert.deepEqual(citationProblems(`${D}guide.md#again-2`, readSample), [
      `line 1: ${D}guide.md has no anchor #again-2`,
    ]);
    assert.deepEqual(citationProblems(`\n${D}missing.md`, readSample), [`line 2: ${D}missing.md does not exist`]);
  });

  it('refuses the documents kept outside the repository, and numbered sections', () => {
    for (const name of OUTSIDE_DOCUMENTS) {
      assert.deepEqual(citationProblems(`// (${name} 3)`, readSample), [
        `line 1: cites ${name}, which is not in the repository`,
      ]);
    }
    assert.equal(citationProblems(`// the rule of ${SECTION_SIGN}4.2`, readSample).length, 1);
  });

  it('checks relative links and their anchors', () => {
    const markdown =
      '[a](guide.md) [b](guide.md#bwraps-path) [c](#top) [d](gone.md) [e](guide.md#nope) [f](https://x.md)';
    assert.deepEqual(linkProblems(`# Top\n${markdown}`, readSample), [
      'line 2: gone.md does not exist',
      'line 2: guide.md#nope does not exist',
    ]);
  });
});

describe('doc citations: this repository', () => {
  it('every document and section cited in src, commands, test, scripts, bench and templates exists', () => {
    const files = CITING_DIRS.flatMap((dir) => filesBelow(join(PACKAGE_ROOT, dir)));
    assert.ok(
      files.some((file) => file.endsWith(join('src', 'merge', 'merge.ts'))),
      'the scan reads the sources',
    );
    const problems = files.flatMap((file) =>
      citationProblems(readFileSync(file, 'utf8'), readRepoDoc).map(
        (problem) => `${relative(PACKAGE_ROOT, file)} ${problem}`,
      ),
    );
    assert.deepEqual(problems, []);
  });

  it('the links between docs/ and from README.md lead to existing files and sections', () => {
    const docsDir = join(PACKAGE_ROOT, 'docs');
    const pages = [...filesBelow(docsDir).filter((file) => file.endsWith('.md')), join(PACKAGE_ROOT, 'README.md')];
    const problems = pages.flatMap((page) => {
      const text = readFileSync(page, 'utf8');
      const base = page.startsWith(docsDir) ? docsDir : PACKAGE_ROOT;
      return [
        ...linkProblems(text, (name) => readIfExists(join(base, name))),
        ...citationProblems(text, readRepoDoc),
      ].map((problem) => `${relative(PACKAGE_ROOT, page)} ${problem}`);
    });
    assert.deepEqual(problems, []);
  });
});
