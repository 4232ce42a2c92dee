/**
 * uWebSockets.js, loaded only after the SHA-256 of the native binary it is about to load matches
 * the digest committed in uws-digests.ts. The binary comes from a third party's repackage of
 * upstream's builds, so a different file under the same version is refused, not run.
 * Overrides: OFFLOOP_UWS_DIGEST=<sha-256 hex> accepts that digest instead (a binary you built or
 * vetted); OFFLOOP_UWS_SKIP_DIGEST=1 skips the check.
 */

import type * as UWS from 'uWebSockets.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { uwsDigests } from './uws-digests.js';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js';

/** The binary's digest is not the one committed for it. */
export class UwsDigestError extends Error {
  override readonly name = 'UwsDigestError';
  readonly code = 'ERR_UWS_DIGEST';

  constructor(
    readonly file: string,
    readonly expected: string | undefined,
    readonly actual: string,
  ) {
    super(
      `uWebSockets.js binary ${file} has SHA-256 ${actual}, ` +
        (expected === undefined ? 'and no digest is committed for it' : `but the committed digest is ${expected}`) +
        '; refusing to load it. Reinstall with `npm ci`, or if you trust this binary set OFFLOOP_UWS_DIGEST=' +
        `${actual} (or OFFLOOP_UWS_SKIP_DIGEST=1 to skip the check)`,
    );
  }
}

const require = createRequire(import.meta.url);

/** The file uWebSockets.js's uws.js will load on this platform, arch and Node ABI. */
export function uwsBinary(): string {
  const dir = dirname(require.resolve('uWebSockets.js'));
  return join(dir, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

export const sha256File = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Throws UwsDigestError unless `file`'s SHA-256 is the one expected for it (see the overrides above). */
export function verifyUws(
  file: string,
  digests: Readonly<Record<string, string>> = uwsDigests,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (env.OFFLOOP_UWS_SKIP_DIGEST === '1') return;
  const expected = env.OFFLOOP_UWS_DIGEST?.trim().toLowerCase() || digests[basename(file)];
  const actual = sha256File(file);
  if (actual !== expected) throw new UwsDigestError(file, expected, actual);
}

const binary = uwsBinary();
// No binary for this platform: let uws.js say so, in its own words, when it fails to load it.
if (existsSync(binary)) verifyUws(binary);
const uWS = require('uWebSockets.js') as typeof UWS;

export const { App, SSLApp, us_listen_socket_close, us_socket_local_port, getParts } = uWS;
