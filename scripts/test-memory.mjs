#!/usr/bin/env node
// npm run test:memory — the addon workload (test/memory/exercise.mjs) under valgrind memcheck.
//
// Runs `valgrind --tool=memcheck --xml=yes ... node --jitless --expose-gc <exercise>`, parses
// valgrind's XML and fails (exit 1, printing each error with its stacks) on any error — invalid
// read/write, use of uninitialised values, invalid or mismatched free, definitely or indirectly
// lost memory — with a frame in offloop_cpp.node / offloop_rust.node or in our sources
// (native/cpp/, native/rust/src/). Errors wholly inside node, V8 or libc are counted and
// summarised but do not fail the run. It also fails when the exercise itself fails (a wrong
// result or a missing error), crashes, or runs past --timeout.
//
//   node scripts/test-memory.mjs [--exercise <file.mjs>] [--timeout <seconds>] [--keep] [--no-track-origins]
//
// --exercise runs another workload (it may write {"calls":{"cpp":n,"rust":n},"failures":[]} to
// $OFFLOOP_MEMORY_REPORT); --keep keeps valgrind's XML. Origins are tracked by default: it names
// where uninitialised bytes came from, which catches our uninitialised memory that is only
// *used* inside node (e.g. uninitialised bytes in a Buffer we return, read by JS) — without it
// such an error has no frame of ours and counts as node's. --no-track-origins is faster.
//
// Blind spots, by construction: possibly-lost and still-reachable blocks are not reported (node
// keeps most of its heap reachable at exit); memory the addons mmap (buffers of 1 MiB and more)
// is one block to valgrind, so neither its leaks nor overruns inside the mapping are seen;
// valgrind's virtual CPU has no SHA extensions, so the SHA-NI path is not run here.
//
// Known Node-API leaks (Node 20) that the exercise avoids, because they would carry our frames:
// an external (a cancel token) still alive at environment teardown leaks Node's 40-byte
// v8impl::ExternalWrapper (napi_create_external); a Promise never settled — e.g. a worker
// terminated with work pending — leaks its 8-byte deferred (napi_create_promise).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../', import.meta.url));

const { values: options } = parseArgs({
  options: {
    exercise: { type: 'string', default: join(root, 'test', 'memory', 'exercise.mjs') },
    timeout: { type: 'string', default: '600' },
    keep: { type: 'boolean', default: false },
    'track-origins': { type: 'boolean', default: true },
    'no-track-origins': { type: 'boolean', default: false },
  },
});

/** Our code, per addon: its shared object, and its source files (when built with -g). */
const ADDONS = [
  { name: 'cpp', object: 'offloop_cpp.node', sources: /(^|\/)native\/cpp\// },
  { name: 'rust', object: 'offloop_rust.node', sources: /(^|\/)native\/rust\/src\// },
];

/** Frames printed below the last frame in our code, and at least this many. */
const STACK_CONTEXT = 3;
const MIN_FRAMES = 8;

const LEAK_KINDS = new Set(['Leak_DefinitelyLost', 'Leak_IndirectlyLost']);

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (line) => console.log(`[test:memory] ${line}`);

function die(message) {
  say(`FAIL: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// valgrind's XML (a fixed, flat format:
// https://sourceware.org/git/?p=valgrind.git;a=blob;f=docs/internals/xml-output-protocol4.txt)

const xmlUnescape = (s) =>
  s.replace(/&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g, (_, name, dec, hexa) =>
    dec
      ? String.fromCodePoint(Number(dec))
      : hexa
        ? String.fromCodePoint(parseInt(hexa, 16))
        : { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[name],
  );
const tag = (xml, name) => {
  const m = xml.match(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`));
  return m ? xmlUnescape(m[1].trim()) : undefined;
};
const tags = (xml, name) => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]);

function parseFrame(xml) {
  return {
    ip: tag(xml, 'ip'),
    obj: tag(xml, 'obj'),
    fn: tag(xml, 'fn'),
    dir: tag(xml, 'dir'),
    file: tag(xml, 'file'),
    line: tag(xml, 'line'),
  };
}

/**
 * One <error>: its kind and headline, then its stacks in order, each with the line that
 * introduces it (the first has none; later ones follow an <auxwhat>, e.g. "Block was alloc'd at").
 */
function parseError(xml) {
  const what = tag(xml, 'what') ?? tag(tag(xml, 'xwhat') ?? '', 'text') ?? '';
  // A definite record that holds indirect blocks reports both ("308 (8 direct, 300 indirect)
  // bytes"), and those indirect blocks have records of their own: count the direct part only.
  const direct = what.match(/^([\d,]+) \(([\d,]+) direct, [\d,]+ indirect\) bytes/);
  const leakedBytes = direct
    ? Number(direct[2].replaceAll(',', ''))
    : Number(tag(tag(xml, 'xwhat') ?? '', 'leakedbytes') ?? 0);
  const stacks = [];
  // Walk the children in order so that each stack keeps the auxwhat just before it; an auxwhat
  // not followed by a stack is a line of its own.
  let caption = null;
  for (const m of xml.matchAll(/<(auxwhat|xauxwhat|stack)>([\s\S]*?)<\/\1>/g)) {
    if (m[1] === 'stack') {
      stacks.push({ caption, frames: tags(m[2], 'frame').map(parseFrame) });
      caption = null;
    } else {
      if (caption !== null) stacks.push({ caption, frames: [] });
      caption = m[1] === 'auxwhat' ? xmlUnescape(m[2].trim()) : (tag(m[2], 'text') ?? '');
    }
  }
  if (caption !== null) stacks.push({ caption, frames: [] });
  return {
    unique: tag(xml, 'unique'),
    tid: tag(xml, 'tid'),
    thread: tag(xml, 'threadname'),
    kind: tag(xml, 'kind'),
    what,
    leakedBytes,
    stacks,
  };
}

function parseValgrindXml(xml) {
  const errors = tags(xml, 'error').map(parseError);
  const counts = new Map();
  const countsXml = tag(xml, 'errorcounts') ?? '';
  for (const pair of tags(countsXml, 'pair')) counts.set(tag(pair, 'unique'), Number(tag(pair, 'count')));
  for (const e of errors) e.count = LEAK_KINDS.has(e.kind) ? 1 : (counts.get(e.unique) ?? 1);
  const fatal = tag(xml, 'fatal_signal');
  return {
    errors,
    complete: xml.includes('</valgrindoutput>'),
    fatal: fatal && { signal: tag(fatal, 'signame'), frames: tags(fatal, 'frame').map(parseFrame) },
  };
}

// ---------------------------------------------------------------------------------------------
// Whose error is it?

function frameOwner(frame) {
  const obj = frame.obj ? basename(frame.obj) : '';
  const source = frame.file ? (frame.dir ? `${frame.dir}/${frame.file}` : frame.file) : '';
  return ADDONS.find((a) => obj === a.object || (source && a.sources.test(source)));
}

/**
 * Errors that are node's or V8's whatever the stacks say. V8's conservative stack scan (cppgc
 * marking) reads every word of the stack, uninitialised slots included; with --track-origins the
 * origin of such a slot may be any function that ran on that stack earlier, ours too.
 */
const NOT_OURS = [
  {
    label: "V8's conservative stack scan, expected",
    test: (error) =>
      error.kind.startsWith('Uninit') &&
      /IteratePointersInStack|IteratePointersImpl/.test(error.stacks[0]?.frames[0]?.fn ?? ''),
  },
];
const notOurs = (error) => NOT_OURS.find((rule) => rule.test(error));

/** The addons with a frame in any of the error's stacks (where it happened, or its block's history). */
const owners = (error) =>
  notOurs(error) ? [] : [...new Set(error.stacks.flatMap((s) => s.frames.map(frameOwner)).filter(Boolean))];

function describeFrame(frame) {
  const ours = frameOwner(frame);
  const where = frame.file
    ? `${frame.dir ? relativeSource(`${frame.dir}/${frame.file}`) : frame.file}${frame.line ? `:${frame.line}` : ''}`
    : '';
  const obj = frame.obj ? basename(frame.obj) : '?';
  return `${ours ? '  >' : '   '} ${frame.fn ?? frame.ip}  (${[where, obj].filter(Boolean).join(', ')})`;
}
const relativeSource = (path) => (path.startsWith(root) ? relative(root, path) : path);

function printError(error, owner) {
  const thread =
    error.tid && !LEAK_KINDS.has(error.kind) ? ` [thread ${error.tid}${error.thread ? ` ${error.thread}` : ''}]` : '';
  say(`${owner.join('+')}: ${error.kind}${error.count > 1 ? ` (x${error.count})` : ''}: ${error.what}${thread}`);
  for (const stack of error.stacks) {
    if (stack.caption) console.log(`     ${stack.caption}`);
    // Down to a few frames below our last one (the rest is node's event loop and interpreter).
    const last = stack.frames.findLastIndex((f) => frameOwner(f));
    const shown = Math.max(last + 1 + STACK_CONTEXT, MIN_FRAMES);
    for (const frame of stack.frames.slice(0, shown)) console.log(describeFrame(frame));
    if (stack.frames.length > shown)
      console.log(`     ... ${stack.frames.length - shown} more frames (--keep for the XML)`);
  }
}

// ---------------------------------------------------------------------------------------------

function checkSetup() {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    die('valgrind is not installed (apt-get install valgrind); this check needs it');
  const exercise = resolve(options.exercise);
  if (!existsSync(exercise)) die(`no exercise script at ${exercise}`);
  if (exercise === join(root, 'test', 'memory', 'exercise.mjs')) {
    for (const path of [
      join(root, 'build', 'Release', 'offloop_cpp.node'),
      join(root, 'build', 'rust', 'offloop_rust.node'),
    ]) {
      if (!existsSync(path)) die(`${relative(root, path)} is missing: build the addons first (npm run build:native)`);
    }
  }
  return { version: probe.stdout.trim(), exercise };
}

function runUnderValgrind(exercise, dir) {
  const xmlFile = join(dir, 'memcheck.xml');
  const reportFile = join(dir, 'report.json');
  const valgrindArgs = [
    '--tool=memcheck',
    '--xml=yes',
    `--xml-file=${xmlFile}`,
    '--leak-check=full',
    '--show-leak-kinds=definite,indirect',
    '--errors-for-leak-kinds=definite,indirect',
    `--track-origins=${options['track-origins'] && !options['no-track-origins'] ? 'yes' : 'no'}`,
    '--num-callers=40',
    // Node unloads (dlclose) an addon that only a worker loaded when that worker exits; keep
    // its symbols so that leaks reported at process exit still name its frames.
    '--keep-debuginfo=yes',
    '--error-limit=no',
    '--trace-children=no',
    '--child-silent-after-fork=yes',
  ];
  const nodeArgs = ['--jitless', '--expose-gc', exercise];
  say(`valgrind ${valgrindArgs.join(' ')} ${process.execPath} ${nodeArgs.join(' ')}`);
  const child = spawn('valgrind', [...valgrindArgs, process.execPath, ...nodeArgs], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, UV_THREADPOOL_SIZE: '4', OFFLOOP_MEMORY_REPORT: reportFile, NODE_OPTIONS: '' },
  });
  const timeoutS = Number(options.timeout);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    say(`still running after ${timeoutS} s: killing valgrind (pid ${child.pid})`);
    child.kill('SIGKILL');
  }, timeoutS * 1000);
  return new Promise((resolvePromise) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, timedOut, xmlFile, reportFile });
    });
  });
}

async function main() {
  const { version, exercise } = checkSetup();
  const dir = mkdtempSync(join(tmpdir(), 'offloop-memcheck-'));
  say(`${version}, node ${process.version}; exercise ${relativeSource(exercise)}; this takes a few minutes`);
  const run = await runUnderValgrind(exercise, dir);
  const problems = [];
  if (run.timedOut) problems.push(`the run took longer than ${options.timeout} s`);
  else if (run.signal) problems.push(`valgrind was killed by ${run.signal}`);
  else if (run.code !== 0) problems.push(`the exercise exited with code ${run.code}`);

  let report = { calls: {}, failures: [] };
  if (existsSync(run.reportFile)) report = JSON.parse(readFileSync(run.reportFile, 'utf8'));
  else problems.push('the exercise wrote no report (it did not finish)');
  for (const f of report.failures ?? []) problems.push(`exercise: ${f}`);

  if (!existsSync(run.xmlFile)) die(`valgrind wrote no XML (${problems.join('; ')})`);
  const parsed = parseValgrindXml(readFileSync(run.xmlFile, 'utf8'));
  if (!parsed.complete) problems.push("valgrind's XML is incomplete (valgrind did not finish)");
  if (parsed.fatal) {
    problems.push(`the process died of ${parsed.fatal.signal}`);
    say(`fatal signal ${parsed.fatal.signal}:`);
    for (const frame of parsed.fatal.frames) console.log(describeFrame(frame));
  }

  // Classify.
  const perAddon = Object.fromEntries(
    ADDONS.map((a) => [a.name, { errors: 0, contexts: 0, leakedBytes: 0, leaks: 0 }]),
  );
  const outside = { errors: 0, contexts: 0, leakedBytes: 0, byKind: new Map() };
  const totals = { errors: 0, contexts: parsed.errors.length, leakedBytes: 0 };
  const ours = [];
  for (const error of parsed.errors) {
    const leak = LEAK_KINDS.has(error.kind);
    totals.errors += error.count;
    totals.leakedBytes += error.leakedBytes;
    const owner = owners(error).map((a) => a.name);
    if (owner.length > 0) {
      ours.push([error, owner]);
      for (const name of owner) {
        const t = perAddon[name];
        t.contexts += 1;
        if (leak) {
          t.leaks += 1;
          t.leakedBytes += error.leakedBytes;
        } else t.errors += error.count;
      }
    } else {
      outside.errors += error.count;
      outside.contexts += 1;
      outside.leakedBytes += error.leakedBytes;
      const top = error.stacks[0]?.frames.find(
        (f) => f.fn && !/^(malloc|calloc|realloc|operator new|free|operator delete)/.test(f.fn),
      );
      const known = notOurs(error);
      const key =
        `${error.kind} in ${top?.fn ?? '?'} (${top?.obj ? basename(top.obj) : '?'})` +
        (known ? ` — ${known.label}` : '');
      outside.byKind.set(key, (outside.byKind.get(key) ?? 0) + error.count);
    }
  }

  for (const [error, owner] of ours) printError(error, owner);
  if (outside.contexts > 0) {
    say(
      `${outside.errors} error(s) from ${outside.contexts} context(s), ${outside.leakedBytes} bytes lost, ` +
        'are wholly inside node/V8/libc: counted, not failed (--keep for their stacks):',
    );
    for (const [key, n] of outside.byKind) console.log(`     ${n} x ${key}`);
  } else say('no errors outside our code either (node/V8/libc errors would be counted here, not failed)');
  for (const p of problems) say(`problem: ${p}`);
  if (options.keep) say(`valgrind's XML kept at ${run.xmlFile}`);
  else rmSync(dir, { recursive: true, force: true });

  const failed = ours.length > 0 || problems.length > 0;
  const addonPart = ADDONS.map((a) => {
    const t = perAddon[a.name];
    return (
      `${a.name}: ${report.calls?.[a.name] ?? '?'} calls, ${t.errors} errors, ` +
      `${t.leaks ? `${t.leaks} leaks ` : ''}${t.leakedBytes} bytes leaked`
    );
  }).join(' | ');
  say(
    `${failed ? 'FAIL' : 'PASS'} in ${elapsed()} — ${addonPart} | ` +
      `valgrind: ${totals.errors} errors from ${totals.contexts} contexts, ` +
      `${totals.leakedBytes} bytes definitely/indirectly lost ` +
      `(outside our code: ${outside.errors} errors, ${outside.leakedBytes} bytes)`,
  );
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => die(error?.stack ?? String(error)));
