import { nativeEngine } from './native.js';

/** The C++ kernels (node-addon-api): `*Sync` on the calling thread, Promises on libuv's pool. */
export const cpp = nativeEngine('cpp');
