import { nativeEngine } from './native.js';

/** The Rust kernels (raw Node-API): `*Sync` on the calling thread, Promises on libuv's pool. */
export const rust = nativeEngine('rust');
