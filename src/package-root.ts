import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory: this file runs as dist/src/package-root.js (tsc's outDir is dist/). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A path inside the package: `packagePath('dist', 'web')`. */
export const packagePath = (...parts: string[]): string => join(packageRoot, ...parts);
