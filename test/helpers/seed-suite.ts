import type { TestFn } from 'ava';
import { getRead } from './raw.js';
import { type RunningServer, request } from './server.js';

/** 1 + 2 + … + n, exactly: the oracle for /query. */
export const sumTo = (n: number): string => ((BigInt(n) * (BigInt(n) + 1n)) / 2n).toString();

export const seedRoutes = ['/terrible-ping', '/good-ping', '/perfect-ping'] as const;

export interface SeedSuite {
  kind: 'sqlite' | 'postgres';
  server: () => RunningServer;
  /** UPDATE pongs SET pong = value WHERE id = 1, over the test's own connection. */
  setPong: (value: string) => Promise<void>;
  /** The /query strategies this database serves. */
  queryStrategies: readonly string[];
}

/**
 * The order in which a long request and a /ping sent while it runs complete. The ping goes out
 * once the server has read the long one, so its handler has started: a blocked loop then answers
 * the ping last.
 */
export async function completionOrder(url: string, longPath: string): Promise<string[]> {
  const order: string[] = [];
  const long = (await getRead(Number(new URL(url).port), longPath)).status.then((s) => order.push(`long:${s}`));
  const ping = request(`${url}/ping`).then((r) => order.push(`ping:${r.status}`));
  await Promise.all([long, ping]);
  return order;
}

/** The tests both databases pass alike. */
export function seedSuite(test: TestFn, suite: SeedSuite): void {
  const url = () => suite.server().url;
  const title = (text: string) => `${suite.kind}: ${text}`;

  test.serial(title('the seed routes answer what is in the database, changed by anyone'), async (t) => {
    for (const value of ['pong', `changed ${Date.now()}`, 'ünïcødé ✓', 'pong']) {
      await suite.setPong(value);
      for (const route of seedRoutes) {
        const reply = await request(`${url()}${route}?ms=1`);
        t.is(reply.status, 200, route);
        t.deepEqual(reply.json(), { pong: value }, route);
      }
    }
  });

  test.serial(title('/ping waits behind /terrible-ping'), async (t) => {
    t.deepEqual(await completionOrder(url(), '/terrible-ping?ms=1500'), ['long:200', 'ping:200']);
  });
  for (const route of ['/good-ping', '/perfect-ping']) {
    test.serial(title(`/ping does not wait behind ${route}`), async (t) => {
      // The ping's round trip must fit in the long one's 3 s, however slow the machine: ample.
      t.deepEqual(await completionOrder(url(), `${route}?ms=3000`), ['ping:200', 'long:200']);
    });
  }

  test(title('/query sums 1..n in the database, exactly'), async (t) => {
    for (const strategy of suite.queryStrategies) {
      for (const n of [1, 2, 3, 1000, 65_536, 1_000_000]) {
        const reply = await request(`${url()}/query/${strategy}?n=${n}`);
        t.is(reply.status, 200, `${strategy} n=${n}: ${reply.body}`);
        const body = reply.json<{ query: string; strategy: string; n: number; result: string; elapsedMs: number }>();
        t.like(body, { query: 'sum', strategy, n, result: sumTo(n) }, `${strategy} n=${n}`);
        t.true(body.elapsedMs >= 0);
      }
    }
  });

  test(title('/query refuses a bad n or strategy, naming it'), async (t) => {
    for (const strategy of suite.queryStrategies) {
      for (const n of ['0', '-1', '1.5', 'x', '1e9', '10000001', '1e400']) {
        const reply = await request(`${url()}/query/${strategy}?n=${n}`);
        t.is(reply.status, 400, `${strategy} n=${n}`);
        t.is(reply.json().field, 'n', `${strategy} n=${n}`);
      }
    }
    const unknown = await request(`${url()}/query/gpu?n=5`);
    t.is(unknown.status, 404);
    t.like(unknown.json(), { field: 'strategy', strategies: ['blocking', 'worker', 'async'] });
  });

  test(title('/health names the database, without a password'), async (t) => {
    const health = await request(`${url()}/health`);
    t.is(health.status, 200);
    const { database } = health.json<{ database: { kind: string; name: string } }>();
    t.is(database.kind, suite.kind);
    t.false(/not-shown-anywhere/.test(health.body.toString()));
    t.false(/not-shown-anywhere/.test(suite.server().output()));
    t.true(suite.server().output().includes(database.name), 'the banner names it too');
  });
}
