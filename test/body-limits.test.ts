import { pbkdf2Sync } from 'node:crypto';
import test from 'ava';
import { raw, stall } from './helpers/raw.js';
import { eventually, type RunningServer, request, sample, startServer } from './helpers/server.js';

// Every body limit at its boundary: exactly at the limit accepted, one past refused, with a
// declared length and chunked; each refusal is the specific status, before the body is read.
const bodyLimit = 1024;
const bodyMemory = 4096;
let server: RunningServer;
test.before(async () => {
  server = await startServer([
    '--body-limit',
    String(bodyLimit),
    '--max-body-memory',
    String(bodyMemory),
    '--timeout',
    '20000',
  ]);
});
test.after.always(async () => {
  await server?.stop();
});

const json = 'application/json';
const octets = 'application/octet-stream';
const head = (path: string, type: string | undefined, length: number | 'chunked' | undefined) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${type === undefined ? '' : `Content-Type: ${type}\r\n`}` +
  (length === 'chunked'
    ? 'Transfer-Encoding: chunked\r\n'
    : length === undefined
      ? ''
      : `Content-Length: ${length}\r\n`) +
  '\r\n';
const chunked = (body: string | Buffer, parts = 2) => {
  const bytes = Buffer.from(body);
  const size = Math.ceil(bytes.length / parts);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const piece = bytes.subarray(at, at + size);
    out.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  return [...out, Buffer.from('0\r\n\r\n')];
};
/** One request, raw; the first response, parsed. */
async function send(
  path: string,
  type: string | undefined,
  body: string | Buffer,
  mode: 'declared' | 'chunked' | 'none' = 'declared',
) {
  const length = mode === 'chunked' ? 'chunked' : mode === 'none' ? undefined : Buffer.byteLength(body);
  const parts = mode === 'chunked' ? chunked(body) : [Buffer.from(body)];
  // One write: uWS closes at once after a refusal, and bytes of ours still unread then would
  // make the kernel reset the connection, losing the answer (the lingering-close problem).
  const reply = await raw(server.port, [Buffer.concat([Buffer.from(head(path, type, length)), ...parts])], {
    responses: 1,
    waitMs: 10_000,
  });
  const [first] = reply.responses;
  if (!first) throw new Error(`no complete response to POST ${path}: ${JSON.stringify(reply.text.slice(0, 200))}`);
  const isJson = first.headerLines.some((l) => /^content-type: application\/json/i.test(l));
  return {
    status: first.status,
    body: (isJson ? JSON.parse(first.body) : {}) as Record<string, unknown>,
    headerLines: first.headerLines,
  };
}
/** A pbkdf2 request padded with spaces to exactly `bytes`. */
const pbkdf2Of = (bytes: number) => {
  const text = JSON.stringify({ password: 'pw', salt: 'salt', iterations: 1, keylen: 8 });
  return `${text.slice(0, -1)}${' '.repeat(bytes - text.length)}}`;
};
const key = pbkdf2Sync('pw', 'salt', 1, 8, 'sha256').toString('hex');

for (const mode of ['declared', 'chunked'] as const) {
  test.serial(`pbkdf2 JSON (${mode}): exactly the limit is served, one byte past it is 413`, async (t) => {
    const at = await send('/pbkdf2/rust-pool', json, pbkdf2Of(bodyLimit), mode);
    t.is(at.status, 200, JSON.stringify(at.body));
    t.is(at.body.result, key);
    const past = await send('/pbkdf2/rust-pool', json, pbkdf2Of(bodyLimit + 1), mode);
    t.is(past.status, 413);
    t.is(past.body.field, 'body');
  });

  test.serial(
    `blur (${mode}): exactly width·height·4 is served; one byte more is 413, one less 400 (rgba)`,
    async (t) => {
      const path = '/blur/cpp-pool?width=16&height=16&radius=1'; // 1024 bytes: the body limit too
      const at = await send(path, octets, Buffer.alloc(1024, 7), mode);
      t.is(at.status, 200);
      const more = await send(path, octets, Buffer.alloc(1025, 7), mode);
      t.is(more.status, 413);
      t.is(more.body.field, 'rgba');
      const less = await send(path, octets, Buffer.alloc(1023, 7), mode);
      t.is(less.status, 400);
      t.is(less.body.field, 'rgba');
    },
  );
}

test.serial(
  'blur: width·height·4 past the body limit is refused from the query alone (413, field width)',
  async (t) => {
    // The client only declares the length: the answer comes without a byte of body sent.
    const reply = await raw(server.port, [head('/blur/cpp-pool?width=16&height=17', octets, 16 * 17 * 4)], {
      responses: 1,
      waitMs: 60_000, // ends at the answer: only a bound for a hang
    });
    t.is(reply.responses[0]?.status, 413);
    t.like(JSON.parse(reply.responses[0]!.body), { field: 'width' });
  },
);

test.serial('411: a body with neither Content-Length nor chunked encoding', async (t) => {
  const reply = await send('/pbkdf2/rust-pool', json, '', 'none');
  t.is(reply.status, 411);
  t.is(reply.body.field, 'content-length');
});

test.serial(
  '415: a POST not declared as the route\'s media type starts no work (cross-site "simple" POSTs)',
  async (t) => {
    const body = pbkdf2Of(100);
    for (const type of [
      'text/plain',
      undefined,
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const reply = await send('/pbkdf2/rust-pool', type, body);
      t.is(reply.status, 415, String(type));
      t.is(reply.body.field, 'content-type');
    }
    t.is((await send('/pbkdf2/rust-pool', 'application/json; charset=utf-8', body)).status, 200);
    t.is((await send('/pbkdf2/rust-pool', 'Application/JSON', body)).status, 200);
    t.is((await send('/blur/rust-pool?width=1&height=1', json, Buffer.alloc(4))).status, 415);
    t.is((await send('/blur/rust-pool?width=1&height=1', 'application/octet-stream', Buffer.alloc(4))).status, 200);
  },
);

test.serial('a refusal that closes the connection carries exactly one Connection header', async (t) => {
  const reply = await raw(server.port, [head('/pbkdf2/rust-pool', json, 5000)], { responses: 1, waitMs: 60_000 });
  const [response] = reply.responses;
  t.is(response?.status, 413);
  t.deepEqual(
    response!.headerLines.filter((l) => /^connection:/i.test(l)).map((l) => l.toLowerCase()),
    ['connection: close'],
  );
  // Ends at the close, however late it comes: the waits are only bounds for a hang.
  const closing = await raw(server.port, [head('/pbkdf2/rust-pool', json, 5000)], { quietMs: 60_000, waitMs: 60_000 });
  t.true(closing.closed);
});

test.serial(
  'the bodies held by all requests together are bounded: 503 + Retry-After past --max-body-memory, free again after',
  async (t) => {
    const bodies = async () =>
      sample((await request(`${server.url}/metrics`)).body.toString(), 'offloop_request_body_bytes');
    // Four bodies of 1000 bytes that stop arriving: 4000 of the 4096 bytes held.
    const stalled = await Promise.all(
      Array.from({ length: 4 }, () => stall(server.port, head('/pbkdf2/rust-pool', json, bodyLimit), ' '.repeat(1000))),
    );
    await eventually(async () => (await bodies()) === 4000);
    const refused = await send('/pbkdf2/rust-pool', json, pbkdf2Of(200));
    t.is(refused.status, 503);
    t.true(refused.headerLines.some((l) => /^retry-after: \d+$/i.test(l)));
    // A chunked body crosses the bound as it arrives.
    const crossing = await stall(
      server.port,
      head('/pbkdf2/rust-pool', json, 'chunked'),
      `c8\r\n${' '.repeat(200)}\r\n`,
    );
    t.deepEqual((await crossing.reply).statuses, [503]);
    // One stalled client leaves: its 1000 bytes are free again, and a request fits.
    stalled[0]!.socket.destroy();
    await eventually(async () => (await bodies()) === 3000);
    t.is((await send('/pbkdf2/rust-pool', json, pbkdf2Of(200))).status, 200);
    for (const { socket } of stalled) socket.destroy();
    await eventually(async () => (await bodies()) === 0);
  },
);
