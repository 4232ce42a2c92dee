/**
 * The server's and the queue worker's packages are optional peer dependencies of offloop, so that
 * `import 'offloop'` installs none of them (uWebSockets.js alone is 257 MB of binaries). A missing
 * one would surface as ERR_MODULE_NOT_FOUND with a stack, thrown while ESM links the importer, before
 * any of its code runs. So the entries (`offloop/server`, the `offloop` command) check for them first
 * and only then import() what needs them.
 */
import { createRequire } from 'node:module';

/** How to install each optional peer, where its name on npm is not the name it is imported by. */
const installSpecs: Readonly<Record<string, string>> = {
  'uWebSockets.js': 'uWebSockets.js@npm:uwebsockets@3.0.6',
};

/** The packages each part of offloop imports statically, beyond the library's (test/package.test.ts checks). */
export const peersOf = {
  server: {
    label: "offloop's server (offloop/server, the offloop command)",
    packages: ['uWebSockets.js', 'prom-client', 'pino'],
  },
  queue: { label: "offloop's queue strategy (REDIS_URL)", packages: ['bullmq', 'ioredis'] },
  worker: { label: 'offloop worker', packages: ['bullmq', 'ioredis'] },
} as const satisfies Record<string, { label: string; packages: readonly string[] }>;

export type PeerUser = keyof typeof peersOf;

/** Some of the packages a part of offloop needs are not installed. */
export class MissingPeerError extends Error {
  override readonly name = 'MissingPeerError';
  readonly code = 'ERR_OFFLOOP_MISSING_PEER';

  constructor(
    readonly user: PeerUser,
    readonly missing: readonly string[],
  ) {
    const names = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
    super(
      `${peersOf[user].label} needs ${names}, which ${missing.length === 1 ? 'is' : 'are'} not installed ` +
        `(optional peer dependencies: \`import 'offloop'\`, the library, needs none of them). ` +
        `Install with: ${installCommand(missing)}`,
    );
  }
}

export const installCommand = (names: readonly string[]): string =>
  `npm install ${names.map((name) => installSpecs[name] ?? name).join(' ')}`;

const require = createRequire(import.meta.url);

/** The packages of `names` that cannot be found from here, in order. */
export function missingPeers(names: readonly string[], resolve: (name: string) => unknown = require.resolve): string[] {
  return names.filter((name) => {
    try {
      resolve(name);
      return false;
    } catch (error) {
      if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') return true;
      throw error;
    }
  });
}

/** Throws MissingPeerError unless every package `user` needs is installed. */
export function requirePeers(user: PeerUser): void {
  const missing = missingPeers(peersOf[user].packages);
  if (missing.length > 0) throw new MissingPeerError(user, missing);
}
