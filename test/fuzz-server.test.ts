import test from 'ava';
import fc from 'fast-check';
import { fuzzRuns, fuzzSeed } from './helpers/fuzz.js';
import { type RawResponse, raw } from './helpers/raw.js';
import { type RunningServer, request, startServer } from './helpers/server.js';

// Malformed and hostile HTTP: every case gets its specific refusal (408 for a body that stops
// coming), never a crash, and /ping answers throughout.
let server: RunningServer;
let pings = 0;
let pinger: Promise<void>;
let stopPinger = false;
const pingFailures: string[] = [];

test.before(async () => {
  server = await startServer(['--body-limit', '4096', '--timeout', '1500']);
  pinger = (async () => {
    while (!stopPinger) {
      const status = await request(`${server.url}/ping`).then(
        (r) => String(r.status),
        (e: Error) => e.message,
      );
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

/** uWS answers what it cannot parse itself, in HTML, and closes: 400, 431 or 505. */
const uwsOwn = new Set([400, 431, 505]);
const json = 'Content-Type: application/json\r\n';

/**
 * Each hostile request and the one answer it must get: a status (our JSON error or uWS's own
 * refusal), or 'silence' — uWS closes a connection whose request never completes.
 */
const hostile: [string, (string | Uint8Array)[], number | 'silence'][] = [
  ['garbage request line', ['GARBAGE\r\n\r\n'], 505],
  ['no target', ['GET\r\n\r\n'], 505],
  ['unknown HTTP version', ['GET /ping HTTP/9.9\r\nHost: x\r\n\r\n'], 505],
  ['header without a colon', ['GET /ping HTTP/1.1\r\nHost x\r\n\r\n'], 'silence'],
  ['NUL bytes in the target', ['GET /pi\0ng HTTP/1.1\r\nHost: x\r\n\r\n'], 505],
  ['raw high bytes', [Uint8Array.from([0x47, 0x45, 0x54, 0x20, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a])], 505],
  [
    '500 headers',
    [`GET /ping HTTP/1.1\r\n${Array.from({ length: 500 }, (_, i) => `X-${i}: ${i}\r\n`).join('')}\r\n`],
    431,
  ],
  // 64 KiB, not 1 MiB: uWS refuses it once its buffer overflows and closes at once, and bytes of ours it
  // had not read yet would make the kernel reset the connection, dropping the 505 before we read it.
  ['a 64 KiB query string', [`GET /primes/cpp?limit=${'9'.repeat(1 << 16)}`], 505],
  ['unknown method on a route', ['BREW /ping HTTP/1.1\r\nHost: x\r\n\r\n'], 405],
  ['unknown method, unknown path', ['PURGE /nowhere HTTP/1.1\r\nHost: x\r\n\r\n'], 404],
  ['bad JSON', [`POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 9\r\n\r\n{"pass":]`], 400],
  ['JSON of the wrong shape', [`POST /pbkdf2/rust HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 6\r\n\r\n"text"`], 400],
  [
    'a body declared as text/plain',
    ['POST /pbkdf2/rust HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}'],
    415,
  ],
  ['a body with no Content-Type', ['POST /pbkdf2/rust HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'], 415],
  ['a body with no length', [`POST /pbkdf2/rust HTTP/1.1\r\nHost: x\r\n${json}\r\n{}`], 411],
  [
    'a non-numeric Content-Length',
    [`POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Content-Length: abc\r\n\r\n{}`],
    400,
  ],
  ['a negative Content-Length', [`POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Content-Length: -5\r\n\r\n{}`], 400],
  [
    'two Content-Lengths',
    [`POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 2\r\nContent-Length: 9\r\n\r\n{}`],
    400,
  ],
  [
    'a declared body over the limit',
    [
      'POST /blur/cpp?width=64&height=64 HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: application/octet-stream\r\nContent-Length: 16384\r\n\r\n',
      'x'.repeat(16_384),
    ],
    413,
  ],
  [
    'a chunked body over the limit',
    [
      `POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: chunked\r\n\r\n` +
        Array.from({ length: 8 }, () => `400\r\n${'x'.repeat(1024)}\r\n`).join(''),
    ],
    413,
  ],
  [
    'a malformed chunk size',
    [`POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`],
    400,
  ],
  [
    'a body that stops halfway',
    [`POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\n${json}Content-Length: 100\r\n\r\n{"password":`],
    408,
  ],
  ['a path traversal', ['GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n'], 404],
  ['an absolute-form target', ['GET http://evil/ping/../primes/x HTTP/1.1\r\nHost: x\r\n\r\n'], 505],
  ['a bad strategy with odd characters', ['GET /primes/%00%ff%2e%2e HTTP/1.1\r\nHost: x\r\n\r\n'], 404],
];

/** What is wrong with a response, if anything: a well-formed status line; our 4xx/5xx carry a JSON error. */
function malformed(response: RawResponse): string | undefined {
  if (!/^HTTP\/1\.1 \d{3} /.test(response.headerLines[0]!))
    return `status line ${JSON.stringify(response.headerLines[0])}`;
  if (
    response.status < 400 ||
    (uwsOwn.has(response.status) && !response.headerLines.some((l) => /^content-type:/i.test(l)))
  )
    return undefined;
  if (!response.headerLines.some((l) => /^content-type: application\/json$/i.test(l)))
    return `${response.status} without a JSON body`;
  try {
    const body = JSON.parse(response.body) as { error?: unknown };
    return typeof body.error === 'string' && body.error.length > 0
      ? undefined
      : `${response.status} without an "error" message`;
  } catch {
    return `${response.status} with a body that is not JSON`;
  }
}

for (const [name, chunks, expected] of hostile) {
  test(`hostile: ${name} → ${expected}`, async (t) => {
    // uWS closes a connection that stalls mid-request after ~10 s of silence: wait that long.
    const reply = await raw(server.port, chunks, { waitMs: 15_000, responses: 1 });
    if (expected === 'silence') {
      t.deepEqual(reply.statuses, []);
      t.true(reply.closed);
    } else {
      t.deepEqual(reply.statuses, [expected], reply.text.slice(0, 160));
      // uWS's own refusals are HTML and have no length: they end when the connection does.
      if (!uwsOwn.has(expected) || reply.responses.length > 0) t.is(malformed(reply.responses[0]!), undefined);
    }
    t.is((await request(`${server.url}/ping`)).status, 200);
  });
}

// Extreme but valid requests are served.
const extreme: [string, string][] = [
  ['a 64 KiB header', `GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65_536)}\r\n\r\n`],
  [
    'a long query string with 2000 parameters',
    `GET /primes/cpp?limit=5&${'x=1&'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  ],
];
for (const [name, request_] of extreme) {
  test(`extreme but valid: ${name} → 200`, async (t) => {
    // Ends at the answer: the wait is only a bound for a hang.
    t.deepEqual((await raw(server.port, [request_], { responses: 1, waitMs: 60_000 })).statuses, [200]);
  });
}

test('pipelined requests answered at once are answered in order', async (t) => {
  const one = 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n';
  const reply = await raw(
    server.port,
    [`${one}GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n${one}POST /ping HTTP/1.1\r\nHost: x\r\n\r\n`],
    { responses: 4 },
  );
  t.deepEqual(reply.statuses, [200, 404, 200, 405]);
});

test('a request pipelined behind one still being answered closes the connection (uWS rule), harmlessly', async (t) => {
  // Ends at the close: however long the server takes to get there, the waits are only bounds for a hang.
  const reply = await raw(
    server.port,
    ['GET /sleep/cpp?ms=50 HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n'],
    { quietMs: 60_000, waitMs: 60_000 },
  );
  t.true(reply.closed);
  t.is((await request(`${server.url}/ping`)).status, 200);
});

test('random bytes after a valid request line: never a crash', async (t) => {
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(
        'GET /ping HTTP/1.1\r\n',
        'POST /pbkdf2/cpp HTTP/1.1\r\n',
        'GET /primes/cpp?limit=',
        'POST /blur/rust?width=2&height=2 HTTP/1.1\r\n',
        '',
      ),
      fc.uint8Array({ maxLength: 600 }),
      async (start, noise) => {
        cases++;
        const reply = await raw(server.port, [start, noise, '\r\n\r\n'], { quietMs: 50, waitMs: 250, responses: 1 });
        // Whatever the noise formed: each answer is well-formed HTTP — a 4xx/5xx of ours carries
        // a JSON error — and the server is still there to answer /ping.
        for (const response of reply.responses) {
          const wrong = malformed(response);
          if (wrong) throw new Error(`${JSON.stringify(start)} + noise → ${wrong}`);
        }
        if (reply.statuses.some((s) => s < 200 || s > 599))
          throw new Error(`impossible status in ${JSON.stringify(reply.statuses)}`);
        const ping = await request(`${server.url}/ping`);
        if (ping.status !== 200)
          throw new Error(`/ping answered ${ping.status} after ${JSON.stringify(start)} + noise`);
        return true;
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
