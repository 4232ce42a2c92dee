/**
 * `offloop/server`: checks that the server's optional peer dependencies are installed, then
 * loads the server. A missing one is a MissingPeerError naming it and the install command, thrown
 * by this import, not ERR_MODULE_NOT_FOUND from deep inside the server's modules.
 */
import { requirePeers } from './peers.js';

requirePeers('server');
const app = await import('./app.js');

export type { OffloopServer, ServerOptions } from './app.js';
export { MissingPeerError } from './peers.js';
export const createServer: typeof app.createServer = app.createServer;
