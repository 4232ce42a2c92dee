import http from 'node:http';
import test from 'ava';
import { eventually, request, sample, startServer } from './helpers/server.js';

/** Every value of one metric in Prometheus text, over all its label sets. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

test('--processes 2: every scrape counts the requests of both processes, and the counts never go back', async (t) => {
  const server = await startServer(['--processes', '2']);
  t.teardown(() => server.stop());
  const pingsSeenBy = new Map<number, number>();
  let pings = 0;
  let previous = 0;
  for (let scrape = 0; scrape < 30; scrape++) {
    // Fresh connections: the kernel spreads them over both processes (SO_REUSEPORT).
    for (let i = 0; i < 3; i++) {
      const { pid } = (await request(`${server.url}/health`)).json<{ pid: number }>();
      pingsSeenBy.set(pid, (pingsSeenBy.get(pid) ?? 0) + 1);
      pings++;
    }
    const text = (await request(`${server.url}/metrics`)).body.toString();
    // Each /health finished before the scrape was sent: a merged scrape counts every one of them.
    t.is(total(text, 'offloop_http_requests_total', { route: '/health' }), pings, `scrape ${scrape}`);
    const all = total(text, 'offloop_http_requests_total');
    t.true(all >= previous, `scrape ${scrape}: ${all} after ${previous}`);
    previous = all;
    t.is(sample(text, 'offloop_scrape_processes', { state: 'answered' }), 2);
    t.is(sample(text, 'offloop_scrape_processes', { state: 'missing' }), 0);
    // Per-process gauges stay apart, labelled by pid.
    for (const pid of server.pids)
      t.true(sample(text, 'offloop_event_loop_delay_max_seconds', { pid: String(pid) })! >= 0);
  }
  t.is(pingsSeenBy.size, 2, 'both processes served some of the requests (else the test proves nothing)');
  t.is(await server.stop(), 0);
});

test('--processes 2: a process that does not answer counts as of its last answer; the scrape says so', async (t) => {
  const server = await startServer(['--processes', '2']);
  t.teardown(() => {
    for (const pid of server.pids) process.kill(pid, 'SIGCONT');
    return server.stop();
  });
  // A kept-alive connection to one process; the other is stopped (SIGSTOP) and answers nothing.
  const keepAlive = () => new http.Agent({ keepAlive: true, maxSockets: 1 });
  let agent = keepAlive();
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      http
        .get(`${server.url}${path}`, { agent }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
  const servedBy = async () => (JSON.parse(await get('/health')) as { pid: number }).pid;
  let served = await servedBy();
  while (served !== server.pids[0]) {
    agent.destroy();
    agent = keepAlive();
    served = await servedBy();
  }
  t.teardown(() => agent.destroy());
  const stopped = server.pids[1]!;
  const before = total(await get('/metrics'), 'offloop_http_requests_total');
  process.kill(stopped, 'SIGSTOP');
  const text = await get('/metrics');
  const note = `^# offloop: process ${stopped} did not answer within \\d+ ms: its last figures stand in$`;
  t.regex(text, new RegExp(note, 'm'));
  // Its counts as of its last answer stay in the sums: a counter never goes back.
  t.true(total(text, 'offloop_http_requests_total') >= before);
  t.is(sample(text, 'offloop_scrape_processes', { state: 'answered' }), 1);
  t.is(sample(text, 'offloop_scrape_processes', { state: 'missing' }), 1);
  t.true(sample(text, 'offloop_event_loop_delay_max_seconds', { pid: String(served) })! >= 0);
  t.is(sample(text, 'offloop_event_loop_delay_max_seconds', { pid: String(stopped) }), undefined);
  process.kill(stopped, 'SIGCONT');
});

test('--processes 2: a process that dies keeps its counts in the sums after its replacement starts', async (t) => {
  const server = await startServer(['--processes', '2']);
  t.teardown(() => server.stop());
  const served = new Set<number>();
  let healths = 0;
  while (served.size < 2 || healths < 20) {
    served.add((await request(`${server.url}/health`)).json<{ pid: number }>().pid);
    healths++;
  }
  // A scrape now: the supervisor's last figures of each process hold every /health above.
  const scrape = async () => (await request(`${server.url}/metrics`)).body.toString();
  t.is(total(await scrape(), 'offloop_http_requests_total', { route: '/health' }), healths);
  const killed = server.pids[1]!;
  process.kill(killed, 'SIGKILL');
  await server.printed(new RegExp(`"event":"process-restart","childPid":${killed}`));
  // The replacement listens: the scrapes are answered by two processes again.
  await eventually(async () => {
    const text = (await request(`${server.url}/metrics`)).body.toString();
    return sample(text, 'offloop_scrape_processes', { state: 'answered' }) === 2;
  });
  const text = (await request(`${server.url}/metrics`)).body.toString();
  t.is(
    total(text, 'offloop_http_requests_total', { route: '/health' }),
    healths,
    "the dead process's /health counts stay",
  );
  t.is(await server.stop(), 0);
});

test('--processes 2: a SIGTERM during a replacement ends the supervisor; nothing is started after it', async (t) => {
  const server = await startServer(['--processes', '2']);
  // Requests that hold the surviving process in its drain past the replacement's 1 s delay.
  const held = Array.from({ length: 6 }, () => request(`${server.url}/sleep/cpp?ms=3000`).catch(() => undefined));
  const killed = server.pids[1]!;
  process.kill(killed, 'SIGKILL');
  await server.printed(new RegExp(`"event":"process-restart","childPid":${killed}`));
  server.child.kill('SIGTERM');
  t.is(await server.exited, 0);
  await Promise.all(held);
  const afterKill = server.output().split('"event":"process-restart"')[1]!;
  t.notRegex(afterKill, /"event":"start","url"/, 'no process started after the signal');
});
