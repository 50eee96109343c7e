/**
 * Downloads over http(s) with node:http/https: redirects followed, an idle timeout, progress per
 * chunk, and the certificate authorities chosen per repository (dnf's sslcacert and sslverify).
 *
 * The CLI starts Node without NODE_EXTRA_CA_CERTS (Node loads it eagerly, a tenth of a second of
 * every start-up) and hands the file over as REDPAK_EXTRA_CA_CERTS: it is read here, on the
 * first https download only.
 */
import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createRequire } from 'node:module';

export interface TlsChoice {
  /** PEM file(s) of the authorities that may sign the server's certificate (dnf: sslcacert). */
  caFiles?: string[];
  /** false: accept any certificate (dnf: sslverify=0). Default true. */
  verify?: boolean;
}

export interface DownloadOptions {
  tls?: TlsChoice;
  /** Seconds without a byte before giving up (dnf: timeout); 0: no such limit. Default 30. */
  timeoutSeconds?: number;
  /** Seconds the whole download (redirects included) may take; undefined: no limit. */
  deadlineSeconds?: number;
  /** Largest body accepted, in bytes; a longer one (announced or received) is refused. */
  maxBytes?: number;
  /** Aborts the download at once (SIGINT/SIGTERM of the command): rejects with `interrupted`. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Why a download failed, for the caller's message. */
export type DownloadFailure = 'http' | 'cut' | 'interrupted' | 'too-large' | 'deadline' | 'stalled' | 'redirect';

/** Why a download failed: `status` for an HTTP answer, `cut` when the body stopped short. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly cut = false,
    readonly failure: DownloadFailure = cut ? 'cut' : 'http',
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 10;
let extraAuthorities: string[] | undefined;

/**
 * Node's bundled authorities plus the file the environment named (NODE_EXTRA_CA_CERTS). node:tls
 * is loaded here only: a transaction from a local repository never needs it (~2 ms of start-up).
 */
function defaultAuthorities(): string[] | undefined {
  const file = process.env.REDPAK_EXTRA_CA_CERTS;
  if (!file) return undefined;
  const { rootCertificates } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  extraAuthorities ??= [...rootCertificates, readFileSync(file, 'utf8')];
  return extraAuthorities;
}

function tlsOptions(choice: TlsChoice = {}): { ca?: string[]; rejectUnauthorized: boolean } {
  const ca = choice.caFiles?.length ? choice.caFiles.map((f) => readFileSync(f, 'utf8')) : defaultAuthorities();
  return { ...(ca ? { ca } : {}), rejectUnauthorized: choice.verify !== false };
}

type Answer = { redirect: string } | { body: Buffer };

/**
 * One request: the redirect it answers, or its body. Every wait is bounded: no byte for
 * `timeoutSeconds` (stalled), past `deadlineAt` (deadline), the signal (interrupted), and the
 * body is never held beyond `maxBytes`. Whatever fails first settles the promise, then the
 * request is destroyed (its own later errors are ignored).
 */
function fetchOnce(url: URL, options: DownloadOptions, deadlineAt: number | undefined): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const cleanup = () => {
      settled = true;
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error) => {
      if (settled) return;
      cleanup();
      reject(error);
      req.destroy();
    };
    const succeed = (answer: Answer) => {
      if (settled) return;
      cleanup();
      resolve(answer);
    };
    const onAbort = () => fail(new DownloadError('interrupted', undefined, false, 'interrupted'));
    const idle = (options.timeoutSeconds ?? 30) * 1000;
    const req =
      url.protocol === 'https:'
        ? httpsGet(url, { ...tlsOptions(options.tls), timeout: idle })
        : httpGet(url, { timeout: idle });
    req.on('timeout', () =>
      fail(new DownloadError(`no answer for ${idle / 1000} s: the server stalled`, undefined, false, 'stalled')),
    );
    req.on('error', (error) => fail(error));
    if (options.signal) {
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
    }
    if (deadlineAt !== undefined) {
      const left = Math.max(0, deadlineAt - Date.now());
      timers.push(
        setTimeout(
          () => fail(new DownloadError(`not done after ${options.deadlineSeconds} s`, undefined, false, 'deadline')),
          left,
        ),
      );
    }
    req.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      response.on('error', (error) => fail(new DownloadError(error.message, status, true)));
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        return succeed({ redirect: response.headers.location });
      }
      if (status !== 200) {
        response.resume();
        return fail(new DownloadError(`HTTP ${status} ${response.statusMessage ?? ''}`.trim(), status));
      }
      const total = Number(response.headers['content-length'] ?? 0);
      const max = options.maxBytes;
      if (max !== undefined && total > max)
        return fail(
          new DownloadError(`announces ${total} bytes, more than the ${max} bytes allowed`, status, false, 'too-large'),
        );
      const chunks: Buffer[] = [];
      let done = 0;
      response.on('data', (chunk: Buffer) => {
        if (settled) return;
        done += chunk.length;
        if (max !== undefined && done > max)
          return fail(new DownloadError(`more than the ${max} bytes allowed`, status, false, 'too-large'));
        chunks.push(chunk);
        options.onProgress?.(done, total);
      });
      response.on('end', () => {
        if (!response.complete || (total > 0 && done !== total))
          return fail(new DownloadError(`got ${done} of ${total} bytes`, status, true));
        succeed({ body: Buffer.concat(chunks) });
      });
      response.on('close', () => {
        if (!response.complete) fail(new DownloadError(`got ${done} of ${total} bytes`, status, true));
      });
    });
  });
}

/** The body of `url` (http: or https:), following redirects, within the options' bounds. */
export async function download(url: string, options: DownloadOptions = {}): Promise<Buffer> {
  const deadlineAt = options.deadlineSeconds !== undefined ? Date.now() + options.deadlineSeconds * 1000 : undefined;
  let target = new URL(url);
  for (let hop = 0; ; hop += 1) {
    const answer = await fetchOnce(target, options, deadlineAt);
    if ('body' in answer) return answer.body;
    if (hop === MAX_REDIRECTS)
      throw new DownloadError(`more than ${MAX_REDIRECTS} redirects`, undefined, false, 'redirect');
    target = new URL(answer.redirect, target);
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      throw new DownloadError(`redirected to ${target.href}`, undefined, false, 'redirect');
  }
}
