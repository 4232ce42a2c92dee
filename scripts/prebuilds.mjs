#!/usr/bin/env node
// `npm pack` (prepack): copy the addons built here into prebuilds/<platform>-<arch>/, which the
// tarball carries, so that installing it needs no compiler where they fit (scripts/install.mjs).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(target, { recursive: true });
for (const built of ['build/Release/offloop_cpp.node', 'build/rust/offloop_rust.node']) {
  const from = join(root, built);
  if (!existsSync(from)) {
    console.error(`offloop: ${built} is missing; run \`npm run build:native\` first`);
    process.exit(1);
  }
  copyFileSync(from, join(target, built.split('/').pop()));
}
console.log(`offloop: prebuilds written to ${target}`);
