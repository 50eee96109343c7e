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
import { rootCertificates } from 'node:tls';

export interface TlsChoice {
  /** PEM file(s) of the authorities that may sign the server's certificate (dnf: sslcacert). */
  caFiles?: string[];
  /** false: accept any certificate (dnf: sslverify=0). Default true. */
  verify?: boolean;
}

export interface DownloadOptions {
  tls?: TlsChoice;
  /** Seconds without data before giving up (dnf: timeout). Default 30. */
  timeoutSeconds?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Why a download failed: `status` for an HTTP answer, `cut` when the body stopped short. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly cut = false,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 10;
let extraAuthorities: string[] | undefined;

/** Node's bundled authorities plus the file the environment named (NODE_EXTRA_CA_CERTS). */
function defaultAuthorities(): string[] | undefined {
  const file = process.env.REDPAK_EXTRA_CA_CERTS;
  if (!file) return undefined;
  extraAuthorities ??= [...rootCertificates, readFileSync(file, 'utf8')];
  return extraAuthorities;
}

function tlsOptions(choice: TlsChoice = {}): { ca?: string[]; rejectUnauthorized: boolean } {
  const ca = choice.caFiles?.length ? choice.caFiles.map((f) => readFileSync(f, 'utf8')) : defaultAuthorities();
  return { ...(ca ? { ca } : {}), rejectUnauthorized: choice.verify !== false };
}

function request(url: URL, options: DownloadOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const timeout = (options.timeoutSeconds ?? 30) * 1000;
    const req = url.protocol === 'https:' ? httpsGet(url, { ...tlsOptions(options.tls), timeout }, resolve) : httpGet(url, { timeout }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no answer for ${timeout / 1000} s`)));
    req.on('error', reject);
  });
}

/** The body of `url` (http: or https:), following redirects. */
export async function download(url: string, options: DownloadOptions = {}): Promise<Buffer> {
  let target = new URL(url);
  for (let hop = 0; ; hop += 1) {
    const response = await request(target, options);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      if (hop === MAX_REDIRECTS) throw new DownloadError(`more than ${MAX_REDIRECTS} redirects`);
      target = new URL(response.headers.location, target);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new DownloadError(`redirected to ${target.href}`);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new DownloadError(`HTTP ${status} ${response.statusMessage ?? ''}`.trim(), status);
    }
    const total = Number(response.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let done = 0;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        done += chunk.length;
        options.onProgress?.(done, total);
      }
    } catch (error) {
      throw new DownloadError((error as Error).message, status, true);
    }
    if (!response.complete || (total > 0 && done !== total)) throw new DownloadError(`got ${done} of ${total} bytes`, status, true);
    return Buffer.concat(chunks);
  }
}
