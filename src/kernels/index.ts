/** The TypeScript reference kernels: pure functions, the oracle the native kernels must match. */

export { blur } from './blur.js';
export { CancelFlag, TaskState } from './cancel.js';
export { pbkdf2 } from './pbkdf2.js';
export { primes } from './primes.js';
export { sha256 } from './sha256.js';
export { sleep } from './sleep.js';
