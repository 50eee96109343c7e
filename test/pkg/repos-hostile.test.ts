/**
 * Hostile repositories, served over http on 127.0.0.1 and from file://: metadata hrefs that
 * climb out of the cache, endless or oversized metadata, a silent server with timeout=0, package
 * hrefs that climb out, downloads aborted by a signal, and the signature policy a repository
 * without gpgcheck= inherits from the merged node config.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { openPackageFamily } from '../../src/pkg/family-context.js';
import * as dnf from '../../src/pkg/manager.js';
import {
  fetchPackage,
  localRepo,
  nodeRepos,
  syncRepo,
  unsafeHref,
  type NodeRepo,
  type SyncedRepo,
} from '../../src/pkg/repos.js';
import type { TransactionStep } from '../../src/pkg/solver.js';
import { runCommand } from '../helpers/in-process.js';
import { fixtureRepo } from './helpers/family.js';
import { makeNodeFamily, writeRepoFile } from './helpers/nodes.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A repomd.xml listing one primary file at `href` whose checksum matches `content`. */
function repomd(href: string, content: Buffer, size?: number): string {
  return `<?xml version="1.0"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo">\n <data type="primary">\n  <checksum type="sha256">${sha(content)}</checksum>\n  <location href="${href}"/>\n${size === undefined ? '' : `  <size>${size}</size>\n`} </data>\n</repomd>\n`;
}

function isRefusal(...parts: (string | RegExp)[]) {
  return (error: unknown) => {
    assert.ok(error instanceof RedpakError, String(error));
    for (const p of parts)
      assert.match(error.message, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
    return true;
  };
}

describe('hostile repositories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-hostile-repo-'));
  const victim = join(dir, 'victim');
  const payload = Buffer.from('pwned\n');
  /** What the http server answers for repodata/repomd.xml and other paths, set per test. */
  let routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {};
  const server = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/repo\//, '');
    const route = routes[path] ?? routes['*'];
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  let base = '';
  before(async () => {
    mkdirSync(victim);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cacheFor = (label: string) => join(dir, `cache-${label}`);
  /** A file:// repository whose repomd.xml is `xml`. */
  const fileRepo = (label: string, xml: string): NodeRepo => {
    const root = join(dir, `file-${label}`);
    mkdirSync(join(root, 'repodata'), { recursive: true });
    writeFileSync(join(root, 'repodata/repomd.xml'), xml);
    return localRepo(`hostile-${label}`, root);
  };
  const httpRepo = (label: string, extra: Partial<NodeRepo> = {}): NodeRepo =>
    localRepo(`hostile-${label}`, '/unused', { baseurl: [base], ...extra });

  it('metadata hrefs that leave the cache are refused, naming the repository and the href, nothing written (http and file://)', async () => {
    const target = join(victim, 'pwned');
    const hrefs = [
      `../../../../../../../..${target}`,
      target,
      `repodata/../../../../../../../../..${target}`,
      `%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e${target}`,
      `&#46;&#46;/&#46;&#46;/&#46;&#46;/&#46;&#46;/&#46;&#46;/&#46;&#46;/&#46;&#46;/..${target}`,
      'repodata/primary&#0;.xml',
      'repodata/primary&#10;.xml',
      'file:///etc/passwd',
    ];
    for (const [i, href] of hrefs.entries()) {
      const xml = repomd(href, payload);
      // The server answers the payload wherever the href leads (as a hostile one would).
      routes = { 'repodata/repomd.xml': (_q, r) => r.end(xml), '*': (_q, r) => r.end(payload) };
      for (const repo of [httpRepo(`h${i}`), fileRepo(`f${i}`, xml)]) {
        const cache = cacheFor(repo.id);
        await assert.rejects(
          syncRepo(repo, cache),
          isRefusal(`repository ${repo.id}`, 'refused location href', /climbs out|absolute|control character/),
          href,
        );
        assert.ok(!existsSync(target), `${href} wrote ${target}`);
        assert.deepEqual(existsSync(cache) ? readdirSync(cache) : [], [], `${href}: nothing left in the cache`);
      }
    }
  });

  it("a repomd.xml the solver's XML parser could read differently (entities, comments, a second block) is refused", async () => {
    const safe = repomd('repodata/primary.xml', payload);
    const variants = [
      safe.replace('<repomd', '<!DOCTYPE repomd [<!ENTITY up "../../../../etc/shadow">]>\n<repomd'),
      safe.replace(
        '<location href="repodata/primary.xml"/>',
        '<!-- <location href="repodata/primary.xml"/> --><location href="x"/>',
      ),
      safe.replace(
        '</repomd>',
        ` <data type='primary'><checksum type="sha256">${sha(payload)}</checksum><location href='../../evil'/></data>\n</repomd>`,
      ),
      safe.replace(
        '</repomd>',
        ` <data type="primary"><checksum type="sha256">${sha(payload)}</checksum><location href="repodata/other.xml"/></data>\n</repomd>`,
      ),
    ];
    for (const [i, xml] of variants.entries()) {
      routes = { 'repodata/repomd.xml': (_q, r) => r.end(xml), 'repodata/primary.xml': (_q, r) => r.end(payload) };
      const cache = cacheFor(`odd${i}`);
      await assert.rejects(
        syncRepo(httpRepo(`odd${i}`), cache),
        isRefusal(`repository hostile-odd${i}: refused`, /not written by createrepo|readable entries|twice/),
        String(i),
      );
      assert.deepEqual(existsSync(cache) ? readdirSync(cache) : [], []);
    }
  });

  it('the href rule itself: plain relative paths pass, everything that could leave its directory does not', () => {
    for (const ok of ['repodata/abc-primary.xml.gz', 'Packages/r/redhello-1.0-1.noarch.rpm', 'a+b~c^d.rpm'])
      assert.equal(unsafeHref(ok), undefined, ok);
    for (const bad of [
      '',
      '/etc/passwd',
      '../x',
      'a/../../x',
      '%2e%2e/x',
      'a\\..\\x',
      'x\0y',
      'x\ny',
      'http://evil/x',
      'x?y',
      '%zz',
    ])
      assert.notEqual(unsafeHref(bad), undefined, bad);
  });

  it('an endless repomd.xml is refused at its cap, without filling the memory', async () => {
    routes = {
      'repodata/repomd.xml': (_q, res) => {
        res.writeHead(200);
        const chunk = Buffer.alloc(256 * 1024, ' ');
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
      },
    };
    const before = process.memoryUsage().rss;
    await assert.rejects(
      syncRepo(httpRepo('endless'), cacheFor('endless')),
      isRefusal('repository hostile-endless', 'more than the 16777216 bytes allowed'),
    );
    assert.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024);
  });

  it('a primary body longer than the size repomd.xml declares is refused; file:// metadata above the cap too', async () => {
    const primary = Buffer.alloc(10_000, 'p');
    const xml = repomd('repodata/primary.xml.gz', primary, 100);
    routes = { 'repodata/repomd.xml': (_q, r) => r.end(xml), 'repodata/primary.xml.gz': (_q, r) => r.end(primary) };
    await assert.rejects(
      syncRepo(httpRepo('declared'), cacheFor('declared')),
      isRefusal('primary metadata of repository hostile-declared', 'more than the 100 bytes allowed'),
    );
    const local = fileRepo('declared', xml);
    writeFileSync(join(dir, 'file-declared/repodata/primary.xml.gz'), primary);
    await assert.rejects(
      syncRepo(local, cacheFor('declared-file')),
      isRefusal('cannot read', 'more than the 100 bytes allowed'),
    );
  });

  it('timeout=0 and a server that never answers: the per-file deadline ends the wait', async () => {
    routes = { 'repodata/repomd.xml': () => undefined };
    process.env.REDPAK_DOWNLOAD_DEADLINE = '1';
    const started = Date.now();
    try {
      await assert.rejects(
        syncRepo(httpRepo('silent', { timeout: 0 }), cacheFor('silent')),
        isRefusal('gave up', 'not done after 1 s'),
      );
    } finally {
      delete process.env.REDPAK_DOWNLOAD_DEADLINE;
    }
    assert.ok(Date.now() - started < 5000);
  });

  it('an aborted sync stops within ~100 ms, says it was interrupted, and leaves no staging in the cache', async () => {
    const primary = Buffer.from('<metadata/>');
    routes = {
      'repodata/repomd.xml': (_q, r) => r.end(repomd('repodata/primary.xml', primary)),
      'repodata/primary.xml': () => undefined,
    };
    const cache = cacheFor('abort');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    await assert.rejects(
      syncRepo(httpRepo('abort'), cache, { signal: controller.signal }),
      isRefusal('was interrupted'),
    );
    assert.ok(Date.now() - started < 300 + 150, `${Date.now() - started} ms`);
    assert.deepEqual(readdirSync(cache), [], 'no staging directory left');
  });

  const synced = (repo: NodeRepo): SyncedRepo => ({
    repo,
    solver: { id: repo.id, dir: '/unused', priority: 99 },
    baseurl: repo.baseurl[0]!,
    fetched: false,
    fetchedAt: 0,
  });
  const step = (href: string, extra: Partial<TransactionStep> = {}): TransactionStep =>
    ({
      action: 'install',
      name: 'evil',
      arch: 'noarch',
      evr: '1-1',
      nevra: 'evil-1-1.noarch',
      href,
      ...extra,
    }) as TransactionStep;

  it('package hrefs from primary that leave the repository are refused before anything is fetched or written', async () => {
    const cache = cacheFor('pkg');
    for (const href of ['../../../../evil.rpm', '..', '/etc/passwd', 'Packages/%2e%2e/%2e%2e/evil.rpm']) {
      for (const repo of [httpRepo('pkg'), localRepo('hostile-pkg-file', join(dir, 'file-pkg'))]) {
        await assert.rejects(
          fetchPackage(step(href), synced(repo), cache),
          isRefusal(`repository ${repo.id}`, 'refused location href', 'evil-1-1.noarch'),
          href,
        );
      }
    }
    assert.ok(!existsSync(cache));
  });

  it('an aborted package download stops within ~100 ms and leaves no partial file; a body longer than declared is refused', async () => {
    routes = {
      'Packages/slow.rpm': (_q, res) => {
        res.writeHead(200, { 'content-length': 1000 });
        res.write(Buffer.alloc(10));
      },
      'Packages/long.rpm': (_q, res) => res.end(Buffer.alloc(5000)),
    };
    const cache = cacheFor('pkg-abort');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    await assert.rejects(
      fetchPackage(step('Packages/slow.rpm'), synced(httpRepo('pkg-abort')), cache, { signal: controller.signal }),
      isRefusal('was interrupted'),
    );
    assert.ok(Date.now() - started < 200 + 150);
    const packages = join(cache, 'hostile-pkg-abort/packages');
    assert.deepEqual(existsSync(packages) ? readdirSync(packages) : [], []);
    await assert.rejects(
      fetchPackage(step('Packages/long.rpm', { size: 100 }), synced(httpRepo('pkg-abort')), cache),
      isRefusal('more than the 100 bytes allowed'),
    );
    assert.deepEqual(existsSync(packages) ? readdirSync(packages) : [], []);
  });
});

describe('signature policy', () => {
  it("a repository without gpgcheck= takes the merged node config's (an ancestor's gpgcheck: true); --nogpgcheck is refused", async () => {
    const repo = await fixtureRepo();
    const g = await makeNodeFamily({ repoFile: false, gpgcheck: true });
    try {
      // The system node (created from the system template) asks for signatures; app's own config does not.
      const file = writeRepoFile(g.sys, 'plain', `file://${repo.repoDir}`);
      writeFileSync(file, readFileSync(file, 'utf8').replace('gpgcheck=0\n', ''));
      const leaf = openPackageFamily({ redpath: g.app });
      const anyGpg = leaf.family.nodes.some((n) => n.admin?.config.gpgcheck || n.normal.config.gpgcheck);
      assert.ok(anyGpg, 'the system template sets gpgcheck: true');
      assert.ok(!(leaf.node.admin?.config.gpgcheck || leaf.node.normal.config.gpgcheck), 'the leaf itself does not');
      assert.deepEqual(
        nodeRepos(leaf).map((r) => [r.id, r.gpgcheck]),
        [['plain', true]],
      );
      await assert.rejects(
        dnf.install({ redpath: g.app, specs: ['redhello'] }),
        isRefusal('repository plain has gpgcheck=1 but no gpgkey'),
      );
      await assert.rejects(
        dnf.install({ redpath: g.app, specs: ['redhello'], nogpgcheck: true }),
        isRefusal('--nogpgcheck refused: the family of node', 'requires signature checks'),
      );
      // The command line: --nogpgcheck is a flag of every command that reads repositories.
      const shown = async (args: string[]) =>
        JSON.parse((await runCommand('redwrap-dnf', ['--redpath', g.app, 'repolist', '--json', ...args])).stdout) as {
          repos?: { gpgcheck: boolean }[];
          error?: { message: string };
        };
      assert.equal((await shown([])).repos?.[0]?.gpgcheck, true);
      assert.match((await shown(['--nogpgcheck'])).error?.message ?? '', /--nogpgcheck refused/);
    } finally {
      g.cleanup();
    }
  });
});
