import { nativeEngine, nativePoolEngine } from './native.js';

/** The C++ kernels (node-addon-api): `*Sync` on the calling thread, Promises on libuv's pool. */
export const cpp = nativeEngine('cpp');

/** The C++ kernels with Promises on the addon's own lower-priority pool, leaving libuv's free. */
export const cppPool = nativePoolEngine('cpp');
