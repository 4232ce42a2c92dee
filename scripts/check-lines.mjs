#!/usr/bin/env node
// `npm run lint:lines`: every line of tracked source (TypeScript, JavaScript, Rust, C++) is at most
// 120 columns. Biome's formatter wraps code but not long strings or comments, and cargo fmt and
// clang-format leave some lines long too, so this check is the one that holds for all of them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const maxColumns = 120;
const folders = ['src', 'test', 'bench', 'web', 'scripts', 'native'];
const source = /\.(ts|cts|mts|js|cjs|mjs|rs|cc|h)$/;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tracked = execFileSync('git', ['ls-files', '-z', '--', ...folders], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((path) => source.test(path));

let over = 0;
for (const path of tracked) {
  const lines = readFileSync(join(root, path), 'utf8').split('\n');
  lines.forEach((line, i) => {
    // Columns are characters (code points), not UTF-8 bytes: `×` and `→` take one column each.
    const columns = [...line.replace(/\r$/, '')].length;
    if (columns > maxColumns) {
      console.error(`${path}:${i + 1}: ${columns} columns (at most ${maxColumns})`);
      over++;
    }
  });
}
if (over) {
  console.error(`${over} line(s) over ${maxColumns} columns`);
  process.exit(1);
}
