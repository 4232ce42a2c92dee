#!/usr/bin/env node
// Runs on `npm install` / `npm ci` (the package's "install" script) and as `npm run build:native`.
//
// Installed from the packed tarball, offloop carries prebuilt addons for the platform it was
// packed on (prebuilds/<platform>-<arch>/); when one loads here, nothing is compiled. Otherwise —
// in a git clone, on another platform, or with --from-source — both addons are built:
// C++ with node-gyp (from binding.gyp), Rust with the napi-rs CLI (or cargo where the CLI,
// a devDependency, is absent).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const fromSource = process.argv.includes('--from-source') || process.env.OFFLOOP_BUILD_FROM_SOURCE === '1';
const platform = `${process.platform}-${process.arch}`;

const addons = {
  cpp: { built: join(root, 'build/Release/offloop_cpp.node'), build: buildCpp },
  rust: { built: join(root, 'build/rust/offloop_rust.node'), build: buildRust },
};

function log(message) {
  console.log(`offloop: ${message}`);
}

/** True when the file loads in a fresh Node process (a prebuild for another libc fails here). */
function loads(file) {
  if (!existsSync(file)) return false;
  const probe = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file], { stdio: 'pipe' });
  if (probe.status !== 0) log(`${file} does not load here: ${probe.stderr.toString().trim().split('\n')[0]}`);
  return probe.status === 0;
}

function run(command, args, what) {
  log(`${what}: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.error) throw new Error(`${what} could not start ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status})`);
}

function resolveBin(pkg, bin) {
  try {
    return join(dirname(require.resolve(`${pkg}/package.json`)), bin);
  } catch {
    return undefined;
  }
}

function buildCpp() {
  // npm hands its own node-gyp and nodedir to install scripts; outside npm, find them ourselves.
  const gyp = resolveBin('node-gyp', 'bin/node-gyp.js') ?? process.env.npm_config_node_gyp;
  if (!gyp) throw new Error('node-gyp not found: install it (npm i -g node-gyp) to build the C++ addon');
  const args = [gyp, 'rebuild'];
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h')))
    args.push(`--nodedir=${prefix}`);
  run(process.execPath, args, 'C++ addon');
}

const minCargo = [1, 85];

/**
 * Building from source needs cargo ≥ 1.85: say so in words, before anything is compiled, rather
 * than let the napi-rs CLI fail with a stack trace.
 */
function checkCargo() {
  const cargo = process.env.CARGO ?? 'cargo';
  const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' });
  const version = /cargo (\d+)\.(\d+)/.exec(probe.stdout ?? '');
  const found = version
    ? `cargo ${version[1]}.${version[2]}`
    : probe.error
      ? `${cargo}: not found`
      : `\`${cargo} --version\` failed`;
  if (version && (Number(version[1]) > minCargo[0] || Number(version[2]) >= minCargo[1])) return;
  throw new Error(
    `building the Rust addon needs cargo ≥ ${minCargo.join('.')} (found: ${found}). ` +
      'Install a Rust toolchain with rustup (https://rustup.rs) ' +
      "or your system's packages (Debian: apt-get install cargo), " +
      'set CARGO to its cargo if it is not on the PATH, then run `npm run build:native` — ' +
      'or install offloop from its ' +
      'packed tarball, which carries prebuilt addons for the platform it was packed on.',
  );
}

function buildRust() {
  const manifest = 'native/rust/Cargo.toml';
  const napi = resolveBin('@napi-rs/cli', 'dist/cli.js');
  if (napi) {
    run(
      process.execPath,
      [
        napi,
        'build',
        '--release',
        '--manifest-path',
        manifest,
        '--config-path',
        'native/rust/napi.json',
        '--output-dir',
        'build/rust',
      ],
      'Rust addon',
    );
    return;
  }
  // Without the CLI (a tarball install on a platform with no prebuild): plain cargo.
  run(process.env.CARGO ?? 'cargo', ['build', '--release', '--manifest-path', manifest], 'Rust addon');
  const lib = { darwin: 'liboffloop_rust.dylib', win32: 'offloop_rust.dll' }[process.platform] ?? 'liboffloop_rust.so';
  mkdirSync(dirname(addons.rust.built), { recursive: true });
  copyFileSync(join(root, 'native/rust/target/release', lib), addons.rust.built);
}

try {
  const building = Object.keys(addons).filter(
    (name) => fromSource || !loads(join(root, 'prebuilds', platform, `offloop_${name}.node`)),
  );
  if (building.includes('rust')) checkCargo();
  for (const [name, addon] of Object.entries(addons)) {
    const prebuilt = join(root, 'prebuilds', platform, `offloop_${name}.node`);
    if (!fromSource && loads(prebuilt)) {
      log(`using the prebuilt ${name} addon for ${platform}`);
      continue;
    }
    addon.build();
    if (!loads(addon.built)) throw new Error(`the ${name} addon was built but does not load: ${addon.built}`);
    log(`built the ${name} addon: ${addon.built}`);
  }
} catch (error) {
  console.error(`offloop: ${error.message}`);
  process.exit(1);
}
