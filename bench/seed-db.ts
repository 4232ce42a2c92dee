import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type PostgresCluster, postgresBin, postgresMissing, startPostgres } from '../test/helpers/postgres.js';
import { type CpuUse, cpuMeter } from './cpu.js';
import { defaultPlacement, runLoad, startPingProbe } from './harness.js';
import { describeMachine, endOfPart, type Machine } from './machine.js';
import type { Profile } from './profile.js';
import type { Step } from './progress.js';
import type { LoadFigures, ProbeFigures } from './results.js';
import { benchServerArgs, type OffloopProcess, startOffloop } from './server.js';
import { fmt, ratio, round } from './stats.js';

/**
 * The seed's routes and /query over a real database, one server per database: SQLite (a file in
 * a temp dir) and PostgreSQL (a throwaway cluster, when installed). Same harness as the HTTP
 * part: autocannon on the route while a probe pings /ping; ping p99 ÷ the same server's idle p99.
 */

type Database = 'sqlite' | 'postgres';
/** /query's n: tens of milliseconds of SQL per request on this machine. */
const queryN = 100_000;

/** Which (database, route) pairs run, and the summary key each one's ratio gets. */
const cases: ReadonlyArray<{ db: Database; path: (seedMs: number) => string; key: string }> = [
  ...(['sqlite', 'postgres'] as const).flatMap((db) =>
    (['terrible-ping', 'good-ping', 'perfect-ping'] as const).map((route) => ({
      db,
      path: (ms: number) => `/${route}?ms=${ms}`,
      key: `seed.${db}.${route}`,
    })),
  ),
  // /query's three places: SQLite on the loop and on a worker; PostgreSQL's server process.
  { db: 'sqlite', path: () => `/query/blocking?n=${queryN}`, key: 'query.blocking' },
  { db: 'sqlite', path: () => `/query/worker?n=${queryN}`, key: 'query.worker' },
  { db: 'postgres', path: () => `/query/async?n=${queryN}`, key: 'query.async' },
  // The same statement through PostgreSQL's synchronous paths, for the table only.
  { db: 'postgres', path: () => `/query/blocking?n=${queryN}`, key: '' },
  { db: 'postgres', path: () => `/query/worker?n=${queryN}`, key: '' },
];

export interface SeedDbRow {
  database: Database;
  path: string;
  /** The summary key, or '' for a row shown only in the table. */
  key: string;
  load: LoadFigures;
  ping: ProbeFigures;
  pingP99Ratio: number;
  cpu: CpuUse;
}

export interface SeedDbResult {
  part: 'db';
  profile: Profile['name'];
  machine: Machine;
  durationS: number;
  settings: { connections: number; loadS: number; probeIntervalMs: number; seedMs: number; queryN: number };
  /** Idle /ping on each server, before and after its loads. */
  idlePing: Partial<Record<Database, { before: ProbeFigures; after?: ProbeFigures }>>;
  /**
   * The lowest idle p99 of all those windows: every ratio's denominator. Both servers answer
   * /ping with the same code, and on a shared machine an idle window that caught someone else's
   * burst would make every ratio look better than it is.
   */
  baselineP99: number;
  rows: SeedDbRow[];
  /** Why PostgreSQL was not measured, if it was not. */
  skipped?: string;
}

/** Waits until the server holds no request (a blocked loop may still owe answers after the load). */
async function settle(url: string): Promise<void> {
  for (let quiet = 0; quiet < 2; await delay(100)) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const busy = [...text.matchAll(/^offloop_(?:inflight|queued)_requests\{[^}]*\}\s+(\S+)$/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    quiet = busy === 0 ? quiet + 1 : 0;
  }
}

export function seedDbPlan(profile: Profile): { steps: Step[]; result(): SeedDbResult; cleanup(): Promise<void> } {
  const h = profile.http;
  const started = performance.now();
  const machine = describeMachine();
  const servers: Partial<Record<Database, OffloopProcess>> = {};
  const idlePing: SeedDbResult['idlePing'] = {};
  const rows: SeedDbRow[] = [];
  let sqliteDir: string | undefined;
  let cluster: PostgresCluster | undefined;
  const skipped = postgresBin() ? undefined : postgresMissing;
  const databases: Database[] = skipped ? ['sqlite'] : ['sqlite', 'postgres'];
  const steps: Step[] = [];
  const idle = async (url: string): Promise<ProbeFigures> => {
    const probe = await startPingProbe(defaultPlacement, url, h.probeIntervalMs);
    await delay(h.idleS * 1000);
    const { samples: _samples, ...figures } = (await probe.stop()).figures;
    return figures;
  };

  for (const db of databases) {
    steps.push({
      label:
        `db · ${db}: start ` +
        (db === 'sqlite' ? 'offloop on a SQLite file' : 'a throwaway PostgreSQL cluster and offloop on it') +
        `, idle ping ${h.idleS} s`,
      async run() {
        let url: string;
        if (db === 'sqlite') {
          sqliteDir = await mkdtemp(join(tmpdir(), 'offloop-bench-db-'));
          url = `sqlite:${join(sqliteDir, 'bench.db')}`;
        } else {
          cluster = await startPostgres();
          url = cluster.url;
        }
        const server = await startOffloop(benchServerArgs(['--host', '127.0.0.1', '--database-url', url]));
        servers[db] = server;
        for (const path of cases.filter((c) => c.db === db).map((c) => c.path(h.seedMs))) {
          const reply = await fetch(`${server.url}${path}`);
          if (reply.status !== 200) throw new Error(`${path} answered ${reply.status}: ${await reply.text()}`);
        }
        const figures = await idle(server.url);
        idlePing[db] = { before: figures };
        return `${server.url}; idle ping p50 ${fmt(figures.p50)} ms, p99 ${fmt(figures.p99)} ms`;
      },
    });
    for (const item of cases.filter((c) => c.db === db)) {
      const path = item.path(h.seedMs);
      steps.push({
        label:
          `db · ${db} · GET ${path} · ${h.connections} connections × ${h.loadS} s, ` +
          `ping every ${h.probeIntervalMs} ms`,
        async run() {
          const server = servers[db];
          if (!server) throw new Error(`the ${db} server did not start`);
          const meter = cpuMeter(server.pid);
          const probe = await startPingProbe(defaultPlacement, server.url, h.probeIntervalMs);
          const loaded = await runLoad(defaultPlacement, {
            url: `${server.url}${path}`,
            connections: h.connections,
            durationS: h.loadS,
          }).catch(async (error: unknown) => {
            await probe.stop().catch(() => {});
            throw error;
          });
          const load = loaded.figures;
          const pinged = await probe.stop();
          const { samples: _samples, ...ping } = pinged.figures;
          const own = meter();
          const cpu = { ...own, harnessS: own.harnessS + pinged.cpuS + loaded.cpuS };
          await settle(server.url);
          const row = {
            database: db,
            path,
            key: item.key,
            load,
            ping,
            cpu,
            pingP99Ratio: ratio(ping.p99, idlePing[db]?.before.p99), // provisional: see result()
          };
          rows.push(row);
          return (
            `${fmt(load.reqPerSec)} req/s (${load.non2xx + load.errors} non-2xx/errors); ` +
            `ping p99 ${fmt(ping.p99)} ms (${fmt(row.pingP99Ratio)}× idle)`
          );
        },
      });
    }
    steps.push({
      label: `db · ${db}: idle ping ${h.idleS} s again, then stop`,
      async run() {
        const server = servers[db];
        const seen = idlePing[db];
        if (!server || !seen) throw new Error(`the ${db} server did not start`);
        seen.after = await idle(server.url);
        await server.proc.stop();
        delete servers[db];
        return `idle ping p99 ${fmt(seen.after.p99)} ms`;
      },
    });
  }

  return {
    steps,
    result: () => {
      const idle = Object.values(idlePing).flatMap((w) => [w.before, ...(w.after ? [w.after] : [])]);
      const baselineP99 = idle.length > 0 ? Math.min(...idle.map((w) => w.p99)) : NaN;
      for (const row of rows) row.pingP99Ratio = ratio(row.ping.p99, baselineP99);
      return {
        part: 'db',
        profile: profile.name,
        machine: endOfPart(machine),
        durationS: (performance.now() - started) / 1000,
        settings: {
          connections: h.connections,
          loadS: h.loadS,
          probeIntervalMs: h.probeIntervalMs,
          seedMs: h.seedMs,
          queryN,
        },
        idlePing,
        baselineP99,
        rows,
        ...(skipped ? { skipped } : {}),
      };
    },
    async cleanup() {
      await Promise.all(Object.values(servers).map((s) => s.proc.stop()));
      await cluster?.destroy();
      if (sqliteDir) await rm(sqliteDir, { recursive: true, force: true });
    },
  };
}

/** `seed.sqlite.*`, `seed.postgres.*` and `query.*` for summary.json: only what this run measured. */
export function seedDbSummary(result: SeedDbResult | undefined): {
  seed?: Record<string, Record<string, number>>;
  query?: Record<string, number>;
} {
  if (!result) return {};
  const seed: Record<string, Record<string, number>> = {};
  const query: Record<string, number> = {};
  for (const row of result.rows.filter((r) => r.key !== '')) {
    const [group, a, b] = row.key.split('.') as [string, string, string | undefined];
    if (group === 'seed') seed[a] = { ...seed[a], [b!]: round(row.pingP99Ratio) };
    else query[a] = round(row.pingP99Ratio);
  }
  return { seed, query };
}

export async function readSeedDb(dir: string): Promise<SeedDbResult | undefined> {
  try {
    const value = JSON.parse(await readFile(join(dir, 'db.json'), 'utf8')) as SeedDbResult;
    return value.part === 'db' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The README section: one table, every row measured. */
export function renderSeedDb(result: SeedDbResult | undefined): string {
  if (!result) return '';
  const s = result.settings;
  const header = [
    'database',
    'route',
    'req/s',
    'non-2xx + errors',
    'ping p50 ms',
    'ping p99 ms',
    'ping max ms',
    'p99 ÷ idle',
    'server cores',
  ];
  const lines = result.rows.map((r) => [
    r.database,
    `\`GET ${r.path}\``,
    fmt(r.load.reqPerSec),
    String(r.load.non2xx + r.load.errors),
    fmt(r.ping.p50),
    fmt(r.ping.p99),
    fmt(r.ping.max),
    `${fmt(r.pingP99Ratio)}×`,
    fmt(r.cpu.childS / r.cpu.wallS, 2),
  ]);
  const idle = Object.entries(result.idlePing)
    .map(([db, p]) => `${db} ${fmt(p.before.p99)} ms before its loads, ${fmt(p.after?.p99)} ms after`)
    .join('; ');
  return [
    '',
    '## The seed over a real database',
    '',
    `One server per database (${result.profile} run, ${fmt(result.durationS)} s); ` +
      `each route driven by autocannon with ${s.connections} connections for ${s.loadS} s ` +
      `while /ping is probed every ${s.probeIntervalMs} ms. Seed routes at ?ms=${s.seedMs}; /query at n=${s.queryN}. ` +
      `Idle ping p99: ${idle}; the ratios divide by the lowest, ${fmt(result.baselineP99)} ms.` +
      (result.skipped ? ` PostgreSQL: not measured — ${result.skipped}` : ''),
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...lines.map((l) => `| ${l.join(' | ')} |`),
    '',
  ].join('\n');
}
