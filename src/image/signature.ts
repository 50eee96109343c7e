/**
 * Detached OpenPGP signatures of node archives, made and checked with gpg. Signing uses a secret
 * key of the caller's keyring (GNUPGHOME as gpg reads it). Checking trusts only the public key
 * files it is given: they go into a throwaway keyring, never the caller's, and the signature must
 * be good and made by one of them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { run } from '../pkg/exec.js';

/** Where export writes the signature of ARCHIVE, and import looks for it. */
export function signaturePath(archive: string): string {
  return `${archive}.asc`;
}

/** Fails unless the caller's keyring has the secret key `keyId`: checked before anything is written. */
export async function assertSigningKey(keyId: string): Promise<void> {
  try {
    await run('gpg', ['--batch', '--list-secret-keys', keyId], { purpose: `find the signing key ${keyId}` });
  } catch (error) {
    if (error instanceof RedpakError && error.code === 'tool-missing') throw error;
    throw new RedpakError(
      'usage',
      `no secret key ${keyId} in the keyring of gpg${process.env.GNUPGHOME ? ` (GNUPGHOME=${process.env.GNUPGHOME})` : ''}`,
      {
        hint: 'list the keys with gpg --list-secret-keys, or set GNUPGHOME to the keyring that holds it',
      },
    );
  }
}

/** Signs `file` with `keyId` (a key id, fingerprint or user id of the caller's keyring) into `output`. */
export async function signFile(file: string, keyId: string, output = signaturePath(file)): Promise<string> {
  await run('gpg', ['--batch', '--yes', '--local-user', keyId, '--armor', '--detach-sign', '--output', output, file], {
    purpose: `sign ${file} with key ${keyId}`,
  });
  return output;
}

export interface Verified {
  /** Fingerprint of the key that made the signature. */
  fingerprint: string;
  /** Its user id, as gpg prints it. */
  signer: string;
}

/** Checks that `signature` is a good signature of `file` by a key of `keyFiles`; throws otherwise. */
export async function verifyFile(file: string, signature: string, keyFiles: readonly string[]): Promise<Verified> {
  // A short private home: gpg-agent's socket path must stay under 108 bytes.
  const home = mkdtempSync(join(tmpdir(), 'rp-gpg-'));
  const env = { GNUPGHOME: home };
  try {
    for (const key of keyFiles)
      await run('gpg', ['--batch', '--quiet', '--import', key], { env, purpose: `read the public key ${key}` });
    const result = await run('gpg', ['--batch', '--status-fd', '1', '--verify', signature, file], {
      env,
      okStatuses: [0, 1, 2],
      purpose: `check the signature ${signature}`,
    });
    const valid = /^\[GNUPG:\] VALIDSIG (\S+)/m.exec(result.stdout);
    const good = /^\[GNUPG:\] GOODSIG \S+ (.*)$/m.exec(result.stdout);
    if (result.status !== 0 || !valid || !good) {
      const why = /^\[GNUPG:\] BADSIG/m.test(result.stdout)
        ? 'the signature does not match the archive (changed after it was signed)'
        : /^\[GNUPG:\] (NO_PUBKEY|ERRSIG)/m.test(result.stdout)
          ? 'it was not made by any of the keys given'
          : result.stderr.trim().split('\n')[0] || 'gpg could not check it';
      throw new RedpakError('io', `signature ${signature} of ${file}: ${why}`, {
        hint: 'nothing was imported; get the archive and its .asc again from where it was exported, or give the right key with --verify-key',
      });
    }
    return { fingerprint: valid[1], signer: good[1] };
  } finally {
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
}
