import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A compiled module's static reach: the files it loads, transitively, and the packages they name. */
export interface ImportGraph {
  files: Set<string>;
  packages: Set<string>;
}

// `import … from`, `export … from`, `import '…'` and `require('…')` (uws.ts loads uWebSockets.js with
// createRequire) are static: they load with the module. `import('…')` with a literal loads later.
// A specifier built at run time is not seen: the database drivers are loaded that way on purpose.
const staticImport = /(?:\bfrom\s*|\brequire\s*\(\s*|^import\s+)'([^']+)'/gm;
const dynamicImport = /\bimport\s*\(\s*'([^']+)'/g;

/**
 * Everything `file` (a compiled .js file) imports or requires, followed through relative imports:
 * what loads with it, or with `dynamic`, also what it may import() later.
 */
export function importGraph(
  file: string,
  { dynamic = true } = {},
  graph: ImportGraph = { files: new Set(), packages: new Set() },
): ImportGraph {
  if (graph.files.has(file)) return graph;
  graph.files.add(file);
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(staticImport), ...(dynamic ? text.matchAll(dynamicImport) : [])];
  for (const [, specifier] of found) {
    if (specifier!.startsWith('.')) importGraph(resolve(dirname(file), specifier!), { dynamic }, graph);
    else if (!specifier!.startsWith('node:') && !specifier!.startsWith('#'))
      graph.packages.add(packageName(specifier!));
  }
  return graph;
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageName = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
