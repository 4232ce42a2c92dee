import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'ava';
import { packagePath } from '../src/package-root.js';

// The source's import graph, read from the TypeScript files themselves: every relative
// `import … from`, `export … from` and `import('…')`, type-only ones included.
const src = packagePath('src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(c|m)?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const files = sources(src);
const graph = new Map(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)'(\.[^']+)'/gm)].map((m) => m[1]!);
    const targets = specifiers.map((s) => resolve(dirname(file), s).replace(/\.(c|m)?js$/, '.$1ts'));
    return [relative(src, file), targets.map((target) => relative(src, target))] as const;
  }),
);

/** Every cycle's files, found by a depth-first walk (each cycle once, from its first file). */
function cycles(): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const walk = (file: string, path: string[]) => {
    const at = path.indexOf(file);
    if (at >= 0) return void found.push(path.slice(at));
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) walk(next, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) walk(file, []);
  return found;
}

test('the import graph is read: every relative import names a source file', (t) => {
  t.true(graph.size > 40);
  const missing = [...graph].flatMap(([file, targets]) =>
    targets.filter((x) => !graph.has(x)).map((x) => `${file} -> ${x}`),
  );
  t.deepEqual(missing, []);
  t.true(graph.get('server/app.ts')!.includes('server/routes.ts'), 'it sees the server assemble its routes');
});

test('no module of src/ imports itself back, through any path (type-only imports included)', (t) => {
  t.deepEqual(
    cycles().map((cycle) => cycle.join(' -> ')),
    [],
  );
});

test('the server and the queue use the library through its internals, never its public entry', (t) => {
  const through = [...graph].filter(
    ([file, targets]) => /^(server|queue)\//.test(file) && targets.includes('index.ts'),
  );
  t.deepEqual(
    through.map(([file]) => file),
    [],
  );
});
