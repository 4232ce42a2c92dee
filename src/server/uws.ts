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
import { uwsDigests, uwsVersion } from './uws-digests.js';

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

/** uWebSockets.js's binary for this platform and Node would not load. */
export class UwsLoadError extends Error {
  override readonly name = 'UwsLoadError';
  readonly code = 'ERR_UWS_LOAD';
}

/** What the start-up error says about the system it runs on. */
export interface UwsHost {
  /** Node's version, `process.version`. */
  node: string;
  /** The binary uws.js tried to load. */
  binary: string;
  /** The C library's version in use, or undefined where it is not glibc. */
  glibc: string | undefined;
}

export const thisHost = (binary = uwsBinary()): UwsHost => ({
  node: process.version,
  binary,
  glibc: (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime,
});

/**
 * The start-up error's message when uws.js failed to load its binary (`reason`: what it threw). A binary
 * linked against a newer glibc than the system's is the common case — uWebSockets.js 3.0.6's builds for
 * Node 22 and 24 need glibc 2.38, Debian 12 has 2.36 — and dlopen says so only as `GLIBC_2.38' not found.
 */
export function uwsLoadMessage(reason: string, host: UwsHost): string {
  const needed = /version [`']GLIBC_(\d+\.\d+)' not found/.exec(reason)?.[1];
  if (needed === undefined) {
    const binary = basename(host.binary);
    return `uWebSockets.js ${uwsVersion} cannot load its binary ${binary} on Node ${host.node}: ${reason}`;
  }
  return (
    `offloop's server cannot start on Node ${host.node} on this system: uWebSockets.js ${uwsVersion}'s binary ` +
    `for this Node (${basename(host.binary)}) needs glibc ${needed} or newer, and this system has ` +
    `glibc ${host.glibc ?? 'of an unknown version'}. Run the server on Node 20 (its binary needs glibc 2.27), or on ` +
    `a system with glibc ${needed} or newer (Debian 13, Ubuntu 24.04). The library, import 'offloop', ` +
    'does not use uWebSockets.js and runs on this Node.'
  );
}

function loadUws(): typeof UWS {
  const binary = uwsBinary();
  // No binary for this platform: let uws.js say so, in its own words, when it fails to load it.
  if (existsSync(binary)) verifyUws(binary);
  try {
    return require('uWebSockets.js') as typeof UWS;
  } catch (error) {
    throw new UwsLoadError(uwsLoadMessage((error as Error).message, thisHost(binary)), { cause: error });
  }
}

const uWS = loadUws();

export const { App, SSLApp, us_listen_socket_close, us_socket_local_port, getParts } = uWS;
