#!/usr/bin/env node
/**
 * `offloop`, the command (package.json's bin; `npm start` and `npm run worker` in a clone):
 *
 *   offloop [options]           the server (src/main.ts)
 *   offloop worker [options]    a queue worker (src/queue/worker-main.ts)
 *   offloop --version | --help
 *
 * It imports nothing statically that needs an optional peer dependency: ESM resolves every static
 * import before running any code, so a missing uWebSockets.js would be ERR_MODULE_NOT_FOUND with a
 * stack. So this checks the packages first, names the missing ones with their install command, and
 * only then imports the program that needs them.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from './package-root.js';
import { MissingPeerError, type PeerUser, requirePeers } from './server/peers.js';

const argv = process.argv.slice(2);
const isWorker = argv[0] === 'worker';

/** Exits 1 with the message, without a stack, when `user`'s packages are not all installed. */
function checkPeers(user: PeerUser): void {
  try {
    requirePeers(user);
  } catch (error) {
    if (!(error instanceof MissingPeerError)) throw error;
    console.error(`offloop: ${error.message}`);
    process.exit(1);
  }
}

if (argv.includes('--version') || argv.includes('-v')) {
  const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
  console.log(version);
} else if (isWorker) {
  checkPeers('worker');
  const { runWorker } = await import('./queue/worker-main.js');
  await runWorker(argv.slice(1));
} else if (argv.includes('--help') || argv.includes('-h')) {
  const { helpText } = await import('./server/config.js');
  console.log(helpText());
} else {
  checkPeers('server');
  await import('./main.js');
}
