/** The TypeScript reference kernels: pure functions, the oracle the native kernels must match. */
export { primes } from './primes.js';
export { pbkdf2 } from './pbkdf2.js';
export { blur } from './blur.js';
export { sleep } from './sleep.js';
export { sha256 } from './sha256.js';
export { CancelFlag, TaskState } from './cancel.js';
