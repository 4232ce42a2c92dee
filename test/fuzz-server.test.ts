import test from 'ava';
import fc from 'fast-check';
import { fuzzRuns, fuzzSeed } from './helpers/fuzz.js';
import { raw } from './helpers/raw.js';
import { type RunningServer, request, startServer } from './helpers/server.js';

// Malformed and hostile HTTP: every case gets a proper 4xx (408 for a body that stops coming)
// or a closed connection — never a crash — and /ping answers throughout.
let server: RunningServer;
let pings = 0;
let pinger: Promise<void>;
let stopPinger = false;
const pingFailures: string[] = [];

test.before(async () => {
  server = await startServer(['--body-limit', '4096', '--timeout', '1500']);
  pinger = (async () => {
    while (!stopPinger) {
      const status = await request(`${server.url}/ping`).then((r) => String(r.status), (e: Error) => e.message);
      if (status !== '200') pingFailures.push(status);
      pings++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
});
test.after.always(async () => {
  stopPinger = true;
  await pinger;
  await server?.stop();
});

const clientError = (status: number) => status >= 400 && status < 500;
/**
 * A proper refusal: the connection closed (uWS answers a request line it cannot parse with a
 * 505 and closes), or every response a 4xx.
 */
const refused = (reply: { statuses: number[]; closed: boolean }) =>
  reply.closed || (reply.statuses.length > 0 && reply.statuses.every(clientError));

const hostile: [string, (string | Uint8Array)[]][] = [
  ['garbage request line', ['GARBAGE\r\n\r\n']],
  ['no target', ['GET\r\n\r\n']],
  ['unknown HTTP version', ['GET /ping HTTP/9.9\r\nHost: x\r\n\r\n']],
  ['header without a colon', ['GET /ping HTTP/1.1\r\nHost x\r\n\r\n']],
  ['NUL bytes in the target', ['GET /pi\0ng HTTP/1.1\r\nHost: x\r\n\r\n']],
  ['raw high bytes', [Uint8Array.from([0x47, 0x45, 0x54, 0x20, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a])]],
  ['500 headers', [`GET /ping HTTP/1.1\r\n${Array.from({ length: 500 }, (_, i) => `X-${i}: ${i}\r\n`).join('')}\r\n`]],
  ['a 1 MiB query string', [`GET /primes/cpp?limit=${'9'.repeat(1 << 20)} HTTP/1.1\r\nHost: x\r\n\r\n`]],
  ['unknown method on a route', ['BREW /ping HTTP/1.1\r\nHost: x\r\n\r\n']],
  ['unknown method, unknown path', ['PURGE /nowhere HTTP/1.1\r\nHost: x\r\n\r\n']],
  ['bad JSON', ['POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"pass":]']],
  ['JSON of the wrong shape', ['POST /pbkdf2/rust HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n"text"']],
  ['a non-numeric Content-Length', ['POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}']],
  ['a negative Content-Length', ['POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}']],
  ['two Content-Lengths', ['POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}']],
  ['a declared body over the limit', ['POST /blur/cpp?width=64&height=64 HTTP/1.1\r\nHost: x\r\nContent-Length: 16384\r\n\r\n', 'x'.repeat(16_384)]],
  ['a chunked body over the limit', ['POST /blur/cpp?width=64&height=64 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array.from({ length: 8 }, () => `400\r\n${'x'.repeat(1024)}\r\n`)]],
  ['a malformed chunk size', ['POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n']],
  ['a body that stops halfway', ['POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"password":']],
  ['a path traversal', ['GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n']],
  ['an absolute-form target', ['GET http://evil/ping/../primes/x HTTP/1.1\r\nHost: x\r\n\r\n']],
  ['a bad strategy with odd characters', ['GET /primes/%00%ff%2e%2e HTTP/1.1\r\nHost: x\r\n\r\n']],
];

for (const [name, chunks] of hostile) {
  test(`hostile: ${name} → a 4xx or a closed connection`, async (t) => {
    // uWS closes a connection that stalls mid-request after ~10 s of silence: wait that long.
    const reply = await raw(server.port, chunks, { waitMs: 15_000 });
    t.true(refused(reply), `${JSON.stringify(reply.statuses)} closed=${reply.closed} ${reply.text.slice(0, 120)}`);
    t.is((await request(`${server.url}/ping`)).status, 200);
  });
}

// Extreme but valid requests are served.
const extreme: [string, string][] = [
  ['a 64 KiB header', `GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65_536)}\r\n\r\n`],
  ['a long query string with 2000 parameters', `GET /primes/cpp?limit=5&${'x=1&'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
];
for (const [name, request_] of extreme) {
  test(`extreme but valid: ${name} → 200`, async (t) => {
    t.deepEqual((await raw(server.port, [request_])).statuses, [200]);
  });
}

test('pipelined requests answered at once are answered in order', async (t) => {
  const one = 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n';
  const reply = await raw(server.port, [one + 'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n' + one + 'POST /ping HTTP/1.1\r\nHost: x\r\n\r\n']);
  t.deepEqual(reply.statuses, [200, 404, 200, 405]);
});

test('a request pipelined behind one still being answered closes the connection (uWS rule), harmlessly', async (t) => {
  const reply = await raw(server.port, ['GET /sleep/cpp?ms=50 HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n']);
  t.true(reply.closed);
  t.is((await request(`${server.url}/ping`)).status, 200);
});

test('random bytes after a valid request line: never a crash', async (t) => {
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET /ping HTTP/1.1\r\n', 'POST /pbkdf2/cpp HTTP/1.1\r\n', 'GET /primes/cpp?limit=', 'POST /blur/rust?width=2&height=2 HTTP/1.1\r\n', ''),
      fc.uint8Array({ maxLength: 600 }),
      async (start, noise) => {
        cases++;
        const reply = await raw(server.port, [start, noise, '\r\n\r\n'], { quietMs: 50, waitMs: 250 });
        // Whatever the noise formed, every answer is a real HTTP status; 2xx only if it was valid.
        return reply.statuses.every((s) => s >= 200 && s < 600);
      },
    ),
    { numRuns: fuzzRuns, seed: fuzzSeed },
  );
  t.log(`${cases} random requests`);
  t.is((await request(`${server.url}/ping`)).status, 200);
});

test.after('the server never crashed and /ping never failed', (t) => {
  t.is(server.child.exitCode, null);
  t.deepEqual(pingFailures, []);
  t.true(pings > 0);
});
