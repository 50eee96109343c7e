/**
 * The http(s) downloader against real servers on 127.0.0.1: redirects, HTTP errors, a body cut
 * short, a server that never answers, and https with a certificate authority made by openssl
 * for the test (trusted through sslcacert, through the environment's extra authorities, or not
 * checked with sslverify=0; refused otherwise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { download, DownloadError } from '../../src/pkg/download.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const BODY = Buffer.from('0123456789'.repeat(1000));

const routes: Record<string, Handler> = {
  '/file': (_req, res) => res.writeHead(200, { 'content-length': BODY.length }).end(BODY),
  '/moved': (_req, res) => res.writeHead(301, { location: '/again' }).end(),
  '/again': (_req, res) => res.writeHead(302, { location: '/file' }).end(),
  '/loop': (_req, res) => res.writeHead(302, { location: '/loop' }).end(),
  '/cut': (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(BODY.subarray(0, 100));
    setTimeout(() => res.destroy(), 20);
  },
  '/silent': () => undefined,
  // Sends one byte, then nothing more: a stalled transfer.
  '/drip': (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write('x');
  },
  // A body that never ends (no length announced): only a size cap stops it.
  '/endless': (_req, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = () => {
      while (res.write(chunk));
      res.once('drain', pump);
    };
    pump();
    res.on('close', () => res.removeAllListeners('drain'));
  },
  '/big-announced': (_req, res) => res.writeHead(200, { 'content-length': 5000 }).end(Buffer.alloc(5000)),
};

function handler(req: IncomingMessage, res: ServerResponse): void {
  const route = routes[req.url ?? ''];
  if (route) route(req, res);
  else res.writeHead(404).end('no');
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('download', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-download-'));
  const http = createHttpServer(handler);
  let https: Server;
  let httpUrl = '';
  let httpsUrl = '';
  const ca = join(dir, 'ca.pem');

  before(async () => {
    // A certificate authority, and a server certificate for 127.0.0.1 signed by it.
    const openssl = (...args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=redpak test CA',
    );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    );
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    );
    https = createHttpsServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) },
      handler,
    );
    httpUrl = `http://127.0.0.1:${await listen(http)}`;
    httpsUrl = `https://127.0.0.1:${await listen(https)}`;
  });

  after(() => {
    http.closeAllConnections();
    http.close();
    https.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns the body and reports progress up to its length', async () => {
    let last = [0, 0];
    const bytes = await download(`${httpUrl}/file`, { onProgress: (done, total) => (last = [done, total]) });
    assert.ok(bytes.equals(BODY));
    assert.deepEqual(last, [BODY.length, BODY.length]);
  });

  it('follows redirects, but not forever', async () => {
    assert.ok((await download(`${httpUrl}/moved`)).equals(BODY));
    await assert.rejects(
      download(`${httpUrl}/loop`),
      (e: unknown) => e instanceof DownloadError && /more than 10 redirects/.test(e.message),
    );
  });

  it('reports an HTTP error with its status, and a cut body as cut', async () => {
    await assert.rejects(
      download(`${httpUrl}/missing`),
      (e: unknown) => e instanceof DownloadError && e.status === 404 && !e.cut,
    );
    await assert.rejects(download(`${httpUrl}/cut`), (e: unknown) => e instanceof DownloadError && e.cut);
  });

  it('gives up on a server that never answers after the timeout', async () => {
    const started = Date.now();
    await assert.rejects(download(`${httpUrl}/silent`, { timeoutSeconds: 1 }), /no answer for 1 s/);
    assert.ok(Date.now() - started < 5000);
  });

  it('a stalled transfer (no byte for the timeout) fails, even after the body started', async () => {
    const started = Date.now();
    await assert.rejects(
      download(`${httpUrl}/drip`, { timeoutSeconds: 1 }),
      (e: unknown) => e instanceof DownloadError && e.failure === 'stalled',
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('timeout=0 has no stall limit, but the deadline still ends a server that never answers', async () => {
    const started = Date.now();
    await assert.rejects(
      download(`${httpUrl}/silent`, { timeoutSeconds: 0, deadlineSeconds: 1 }),
      (e: unknown) => e instanceof DownloadError && e.failure === 'deadline' && /not done after 1 s/.test(e.message),
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('refuses a body larger than allowed: announced, or endless without a length', async () => {
    await assert.rejects(
      download(`${httpUrl}/big-announced`, { maxBytes: 4096 }),
      (e: unknown) => e instanceof DownloadError && e.failure === 'too-large' && /announces 5000 bytes/.test(e.message),
    );
    const before = process.memoryUsage().rss;
    await assert.rejects(
      download(`${httpUrl}/endless`, { maxBytes: 1024 * 1024 }),
      (e: unknown) => e instanceof DownloadError && e.failure === 'too-large',
    );
    assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024);
  });

  it('an abort signal stops a download from a server that never answers within ~100 ms', async () => {
    for (const timeoutSeconds of [30, 0]) {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(
        download(`${httpUrl}/silent`, { timeoutSeconds, signal: controller.signal }),
        (e: unknown) => e instanceof DownloadError && e.failure === 'interrupted',
      );
      const took = Date.now() - started;
      assert.ok(took < 200 + 100, `took ${took} ms`);
    }
    // Aborted mid-body, and aborted before it starts.
    const controller = new AbortController();
    const pending = download(`${httpUrl}/drip`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(pending, (e: unknown) => e instanceof DownloadError && e.failure === 'interrupted');
    await assert.rejects(
      download(`${httpUrl}/file`, { signal: AbortSignal.abort() }),
      (e: unknown) => e instanceof DownloadError && e.failure === 'interrupted',
    );
  });

  it('https: refuses an unknown authority; trusts it through sslcacert or the environment; sslverify=false skips the check', async () => {
    await assert.rejects(
      download(`${httpsUrl}/file`),
      (e: unknown) => !(e instanceof DownloadError) && /certificate/i.test((e as Error).message),
    );
    assert.ok((await download(`${httpsUrl}/file`, { tls: { caFiles: [ca] } })).equals(BODY));
    assert.ok((await download(`${httpsUrl}/file`, { tls: { verify: false } })).equals(BODY));
    process.env.REDPAK_EXTRA_CA_CERTS = ca;
    try {
      assert.ok((await download(`${httpsUrl}/file`)).equals(BODY));
    } finally {
      delete process.env.REDPAK_EXTRA_CA_CERTS;
    }
  });
});
