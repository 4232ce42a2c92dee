import test from 'ava';
import { getRead } from './helpers/raw.js';
import { type RunningServer, request, startServer } from './helpers/server.js';

// The non-blocking property, shown by ordering alone: while a long task runs, does /ping answer
// before the task does? One server, one case at a time, so no case can disturb another.
let server: RunningServer;
test.before(async () => {
  // No loop budget: these cases hold the loop on purpose, one after another, to show it.
  server = await startServer(['--max-loop-share', '1', '--max-loop-ms', '3600000']);
});
test.after.always(async () => {
  await server?.stop();
});

async function settleOrder(longPath: string): Promise<string[]> {
  const order: string[] = [];
  // The ping goes out once the server has read the long request: its handler has started.
  const long = (await getRead(server.port, longPath)).status.then((s) => order.push(`long:${s}`));
  const ping = request(`${server.url}/ping`).then((r) => order.push(`ping:${r.status}`));
  await Promise.all([long, ping]);
  return order;
}

// Off the loop, the ping's round trip must fit in what is left of the long task: seconds, ample.
const offLoop: [string, string][] = [
  ['cpp', '/primes/cpp?limit=4000000000'],
  ['rust', '/primes/rust?limit=4000000000'],
  ['worker', '/primes/worker?limit=1500000000'],
  ['cpp-pool', '/primes/cpp-pool?limit=4000000000'],
  ['rust-pool', '/primes/rust-pool?limit=4000000000'],
  ['cpp', '/sleep/cpp?ms=3000'],
  ['rust', '/sleep/rust?ms=3000'],
  ['worker', '/sleep/worker?ms=3000'],
  ['/good-ping', '/good-ping?ms=3000'],
  ['/perfect-ping', '/perfect-ping?ms=3000'],
];
const onLoop: [string, string][] = [
  ['blocking', '/primes/blocking?limit=1500000000'],
  ['cpp-sync', '/primes/cpp-sync?limit=4000000000'],
  ['rust-sync', '/primes/rust-sync?limit=4000000000'],
  ['blocking', '/sleep/blocking?ms=1500'],
  ['/terrible-ping', '/terrible-ping?ms=1500'],
];

for (const [name, path] of offLoop) {
  test.serial(`${name}: /ping answers while ${path} is still running`, async (t) => {
    t.deepEqual(await settleOrder(path), ['ping:200', 'long:200']);
  });
}

for (const [name, path] of onLoop) {
  test.serial(`${name}: /ping waits until ${path} has finished`, async (t) => {
    t.deepEqual(await settleOrder(path), ['long:200', 'ping:200']);
  });
}
