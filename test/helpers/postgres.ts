import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './raw.js';

const run = promisify(execFile);

/** Debian's server binaries, newest version first; undefined when PostgreSQL is not installed. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  // Sync on purpose: a test file decides when it loads whether to run or skip.
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions
    .map((v) => join(root, v, 'bin'))
    .find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')));
}

export const postgresMissing =
  'PostgreSQL is not installed here (no /usr/lib/postgresql/*/bin/initdb): these tests are skipped. ' +
  'Install it with `apt-get install postgresql`.';

export interface PostgresCluster {
  /** A URL with a password in it (trust authentication ignores it), to check it is never shown. */
  readonly url: string;
  readonly port: number;
  /** pg_ctl start, waiting until it accepts connections. */
  start(): Promise<void>;
  /** pg_ctl stop -m immediate: the server goes away at once, as in a crash. */
  stop(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * A throwaway cluster: initdb in a fresh directory under the OS's temp dir, on a free loopback
 * port, its unix socket in that directory too. As root, the server must run as `postgres`.
 */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error(postgresMissing);
  const dir = await mkdtemp(join(tmpdir(), 'offloop-pg-'));
  const asRoot = userInfo().uid === 0;
  const as = async (file: string, args: string[]) => {
    const [command, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, file), ...args]]
      : [join(bin, file), args];
    return run(command, argv, { cwd: dir, timeout: 120_000 });
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  let running = false;
  const cluster: PostgresCluster = {
    url: `postgres://postgres:not-shown-anywhere@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
      running = true;
    },
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      running = false;
    },
    async destroy() {
      if (running) await cluster.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return cluster;
}
