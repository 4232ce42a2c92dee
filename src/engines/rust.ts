import { nativeEngine, nativePoolEngine } from './native.js';

/** The Rust kernels (raw Node-API): `*Sync` on the calling thread, Promises on libuv's pool. */
export const rust = nativeEngine('rust');

/** The Rust kernels with Promises on the addon's own lower-priority pool, leaving libuv's free. */
export const rustPool = nativePoolEngine('rust');
