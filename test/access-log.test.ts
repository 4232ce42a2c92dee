import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { AccessLog, createLogger, LineBuffer } from '../src/server/log.js';
import { eventually, mainEntry, type RunningServer, request, startServer } from './helpers/server.js';

interface Line {
  level: number;
  msg: string;
  event?: string;
  reqId?: number;
  method?: string;
  route?: string;
  strategy?: string;
  status?: number;
  aborted?: boolean;
  ms?: number;
  bytes?: number;
  pid?: number;
}

/** stdout, parsed: every line must be one JSON object (the banner and warnings go to stderr). */
function lines(server: RunningServer): Line[] {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);
}
const accessLines = (server: RunningServer) => lines(server).filter((line) => line.msg === 'request');

const fieldsTitle =
  'each request gets exactly one access line with its fields: answers, 4xx, a timeout, a client that left';
test(fieldsTitle, async (t) => {
  const server = await startServer(['--timeout', '400']);
  try {
    const ping = await request(`${server.url}/ping`);
    const bad = await request(`${server.url}/primes/cpp?limit=abc`);
    const missing = await request(`${server.url}/no/such/route`);
    const wrongMethod = await request(`${server.url}/ping`, { method: 'DELETE' });
    const wrongType = await request(`${server.url}/pbkdf2/cpp`, { method: 'POST', body: '{}' });
    const late = await request(`${server.url}/sleep/cpp?ms=60000`);
    t.deepEqual(
      [ping, bad, missing, wrongMethod, wrongType, late].map((r) => r.status),
      [200, 400, 404, 405, 415, 504],
    );
    // A client that leaves while its work runs: the request still ends once, as 499.
    const controller = new AbortController();
    const left = request(`${server.url}/sleep/rust?ms=60000`, { signal: controller.signal }).catch((e: Error) => e);
    const metrics = async () => (await request(`${server.url}/metrics`)).body.toString();
    await eventually(async () => /offloop_inflight_requests\{strategy="rust"\} 1/.test(await metrics()));
    controller.abort();
    await left;
    const scrapes = () => accessLines(server).filter((line) => line.route === '/metrics');
    const inOrder = () => accessLines(server).filter((line) => line.route !== '/metrics');
    await eventually(async () => inOrder().length === 7);
    const access = inOrder();
    // The scrapes are requests too: each has its line.
    t.true(scrapes().length >= 1 && scrapes().every((line) => line.status === 200));
    const ids = accessLines(server)
      .map((line) => line.reqId!)
      .sort((a, b) => a - b);
    t.deepEqual(
      ids,
      [...Array(ids.length).keys()].map((i) => i + 1),
      'one line per request, each number once',
    );

    t.deepEqual(
      access.map(({ method, route, strategy, status }) => ({ method, route, strategy, status })),
      [
        { method: 'GET', route: '/ping', strategy: undefined, status: 200 },
        { method: 'GET', route: '/primes/:strategy', strategy: 'cpp', status: 400 },
        { method: 'GET', route: '/*', strategy: undefined, status: 404 },
        { method: 'DELETE', route: '/ping', strategy: undefined, status: 405 },
        { method: 'POST', route: '/pbkdf2/:strategy', strategy: 'cpp', status: 415 },
        { method: 'GET', route: '/sleep/:strategy', strategy: 'cpp', status: 504 },
        { method: 'GET', route: '/sleep/:strategy', strategy: 'rust', status: 499 },
      ],
    );
    t.true(access.every((line) => line.level === 30 && line.pid === server.pids[0]));
    t.is(access[6]!.aborted, true);
    t.true(access.slice(0, 6).every((line) => line.aborted === undefined));
    // Bytes are the bodies the client got; ms run to the answer (the 504 after its 400 ms timeout).
    t.deepEqual(
      access.slice(0, 6).map((line) => line.bytes),
      [ping, bad, missing, wrongMethod, wrongType, late].map((r) => r.body.length),
    );
    t.is(access[6]!.bytes, 0);
    t.true(access.every((line) => typeof line.ms === 'number' && line.ms >= 0));
    t.true(access[5]!.ms! >= 400);
  } finally {
    await server.stop();
  }
});

test('start, draining and shutdown are events on stdout; the banner is on stderr', async (t) => {
  const server = await startServer();
  await request(`${server.url}/ping`);
  t.is(await server.stop('SIGTERM'), 0);
  const events = lines(server)
    .filter((line) => line.event !== undefined)
    .map((line) => line.event);
  t.deepEqual(events, ['start', 'signal', 'draining', 'shutdown']);
  const start = lines(server)[0] as Line & { url: string; config: Record<string, unknown> };
  t.is(start.url, server.url);
  t.like(start.config, { timeout: 30_000, logLevel: 'info', queue: 'off' });
  t.false(server.stdout().includes('offloop listening on'));
  t.true(server.output().includes('offloop listening on'));
});

test('--log-level warn writes no access lines (LOG_LEVEL too), and the server still answers', async (t) => {
  for (const [args, env] of [
    [['--log-level', 'warn'], {}],
    [[], { LOG_LEVEL: 'silent' }],
  ] as const) {
    const server = await startServer([...args], env);
    try {
      t.is((await request(`${server.url}/ping`)).status, 200);
      t.is((await request(`${server.url}/nothing`)).status, 404);
    } finally {
      t.is(await server.stop(), 0);
    }
    t.is(server.stdout(), '', `${JSON.stringify(args)} ${JSON.stringify(env)}`);
  }
});

test('a bad --log-level or LOG_LEVEL is a clear startup error naming it', async (t) => {
  for (const [args, env, named] of [
    [['--log-level', 'verbose'], {}, '--log-level'],
    [[], { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ] as const) {
    const child = spawn(process.execPath, [mainEntry, '--port', '0', ...args], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '4', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    // 'close': after 'exit', what the child wrote may still be unread.
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    t.is(code, 2);
    t.regex(stderr, new RegExp(`${named} must be one of fatal, error, warn, info, debug, trace, silent`));
  }
});

test('an access line written by hand is the line pino writes for it: the same fields in the same order', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'offloop-access-'));
  const file = join(dir, 'lines');
  const fd = openSync(file, 'w');
  const buffer = new LineBuffer(fd);
  const byHand = new AccessLog(createLogger('info', { destination: buffer }));
  const viaPino: string[] = [];
  const pinoLog = new AccessLog(createLogger('info', { destination: { write: (line: string) => viaPino.push(line) } }));
  const cases: Parameters<AccessLog['write']>[] = [
    [1, 'GET', '/ping', '', 200, 0, 13],
    [2, 'POST', '/pbkdf2/:strategy', 'cpp', 200, 1, 70],
    [3, 'GET', '/sleep/:strategy', 'rust', 'aborted', 120, 0],
    [4, 'BREW "x"', '/*', '', 404, 1_234_567, 300],
    [5, 'GET', '/primes/:strategy', 'cpp-sync', 504, 999_999, 0],
    [6, 'GET', '/primes/:strategy', 'cpp-sync', 200, 50, 68],
    [7, 'GET', '/primes/:strategy', 'cpp-sync', 200, 100_000, 68],
  ];
  for (const line of cases) {
    byHand.write(...line);
    pinoLog.write(...line);
  }
  buffer.flush();
  closeSync(fd);
  const withoutTime = (line: string) => {
    const { time, ...rest } = JSON.parse(line) as { time: unknown };
    t.is(typeof time, 'number');
    return JSON.stringify(rest);
  };
  const written = readFileSync(file, 'utf8').trimEnd().split('\n');
  t.deepEqual(written.map(withoutTime), viaPino.map(withoutTime));
  rmSync(dir, { recursive: true, force: true });
});
