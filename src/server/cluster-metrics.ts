/**
 * Metrics that add up under `--processes N`: a scrape lands on one process, which asks the
 * supervisor over its IPC channel; the supervisor asks every server process for its registry as
 * JSON and merges them with prom-client's AggregatorRegistry (counters and histograms summed,
 * per-process gauges kept apart by their `pid` label). A process that does not answer in time is
 * left out, and the scrape says so; nothing waits for ever.
 */
import type { ChildProcess } from 'node:child_process';
import type { Registry } from 'prom-client';

/** How long the supervisor waits for each server process's figures. */
export const collectTimeoutMs = 2000;
/** How long a server process waits for the supervisor's merged text before it answers alone. */
export const mergeTimeoutMs = 2 * collectTimeoutMs;

type Message =
  | { type: 'offloop:metrics-request'; id: number }
  | { type: 'offloop:metrics-merged'; id: number; text: string }
  | { type: 'offloop:metrics-collect'; id: number }
  | { type: 'offloop:metrics-json'; id: number; metrics: unknown };

/** A process that left between our check and the send: the wait for it times out, as for a slow one. */
const ignore = () => {};

const isMessage = (m: unknown): m is Message =>
  typeof m === 'object' && m !== null && String((m as { type?: unknown }).type).startsWith('offloop:metrics-');

/** A server process's side: answers the supervisor's collects, and asks it for the merged text. */
export function joinClusterMetrics(registry: Registry) {
  const waiting = new Map<number, (text: string) => void>();
  let next = 0;
  const onMessage = (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === 'offloop:metrics-collect') {
      void registry.getMetricsAsJSON().then((metrics) => {
        process.send?.(
          { type: 'offloop:metrics-json', id: message.id, metrics } satisfies Message,
          undefined,
          {},
          ignore,
        );
      });
    } else if (message.type === 'offloop:metrics-merged') {
      waiting.get(message.id)?.(message.text);
    }
  };
  process.on('message', onMessage);
  return {
    /** Prometheus text for every server process; this process's alone if the supervisor does not answer. */
    async text(): Promise<string> {
      const id = next++;
      const merged = await new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), mergeTimeoutMs);
        waiting.set(id, (text) => {
          clearTimeout(timer);
          resolve(text);
        });
        if (!process.connected) resolve(undefined);
        else process.send?.({ type: 'offloop:metrics-request', id } satisfies Message, undefined, {}, ignore);
      });
      waiting.delete(id);
      if (merged !== undefined) return merged;
      const own = await registry.metrics();
      const note = `# offloop: the supervisor did not answer within ${mergeTimeoutMs} ms: process ${process.pid} only`;
      return `${note}\n${own}`;
    },
    close() {
      process.off('message', onMessage);
    },
  };
}

/** One metric of `registry.getMetricsAsJSON()`, as much of it as the merge reads. */
interface MetricJson {
  type: string;
  values: { labels: Record<string, unknown> }[];
}

/**
 * What of a process's last figures lives on once it stops answering or dies: the counters and
 * histograms that are not its own (no `pid` label), so their sums never go back.
 */
const lasting = (metrics: readonly MetricJson[]): MetricJson[] =>
  metrics
    .filter((m) => m.type === 'counter' || m.type === 'histogram')
    .map((m) => ({ ...m, values: m.values.filter((v) => !('pid' in v.labels)) }));

/**
 * The supervisor's side: `attach` each server process once it listens, `detach` it when it exits.
 * Counters and histograms must never go back between scrapes (Prometheus reads a drop as a reset):
 * a process that does not answer in time counts with the figures of its last answer, and a process
 * that died keeps its last figures in the sums — counts it made after its last scrape are lost.
 */
export function clusterMetricsHub() {
  const attached = new Set<ChildProcess>();
  const collecting = new Map<number, (from: ChildProcess, metrics: MetricJson[]) => void>();
  /** Each attached process's last answer. */
  const last = new Map<ChildProcess, MetricJson[]>();
  /** What the processes that died last reported, kept in the sums (folded into one, in the background). */
  const retired: MetricJson[][] = [];
  let folding = Promise.resolve();
  let next = 0;
  /** One merge at a time: scrapes that arrive meanwhile share its answer. */
  let merging: Promise<string> | undefined;

  async function merge(): Promise<string> {
    const id = next++;
    const all = [...attached].filter((c) => c.connected);
    const answers = new Map<ChildProcess, MetricJson[]>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, collectTimeoutMs);
      collecting.set(id, (from, metrics) => {
        answers.set(from, metrics);
        if (answers.size === all.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (const child of all) child.send({ type: 'offloop:metrics-collect', id } satisfies Message, ignore);
      if (all.length === 0) resolve();
    });
    collecting.delete(id);
    for (const [child, metrics] of answers) if (attached.has(child)) last.set(child, metrics);
    const silent = all.filter((c) => !answers.has(c));
    const stale = silent.flatMap((c) => (last.has(c) ? [lasting(last.get(c)!)] : []));
    const { AggregatorRegistry, Gauge } = await import('prom-client');
    const registry = AggregatorRegistry.aggregate([...answers.values(), ...stale, ...retired] as object[]);
    const processes = new Gauge({
      name: 'offloop_scrape_processes',
      help:
        'Server processes in this scrape: answered, or missing (did not answer in time: ' +
        'their counters and histograms are as of their last answer, their gauges absent)',
      labelNames: ['state'] as const,
      registers: [registry],
      aggregator: 'first',
    });
    processes.set({ state: 'answered' }, answers.size);
    processes.set({ state: 'missing' }, silent.length);
    const text = await registry.metrics();
    if (silent.length === 0) return text;
    const pids = silent.map((c) => c.pid).join(', ');
    const note = `# offloop: process ${pids} did not answer within ${collectTimeoutMs} ms: its last figures stand in`;
    return `${note}\n${text}`;
  }

  return {
    attach(child: ChildProcess): void {
      attached.add(child);
      child.on('message', (message: unknown) => {
        if (!isMessage(message)) return;
        if (message.type === 'offloop:metrics-json') {
          collecting.get(message.id)?.(child, message.metrics as MetricJson[]);
        } else if (message.type === 'offloop:metrics-request') {
          merging ??= merge().finally(() => (merging = undefined));
          merging.then(
            (text) => child.send({ type: 'offloop:metrics-merged', id: message.id, text } satisfies Message, ignore),
            () => {}, // the asking process times out and answers alone
          );
        }
      });
    },
    detach(child: ChildProcess): void {
      if (!attached.delete(child)) return;
      const metrics = last.get(child);
      last.delete(child);
      if (metrics === undefined) return;
      retired.push(lasting(metrics)); // in the sums from now on
      folding = folding.then(fold, fold);
    },
  };

  /** Folds the retired figures into one set, so a process restarting again and again costs nothing more. */
  async function fold(): Promise<void> {
    const count = retired.length;
    if (count < 2) return;
    const { AggregatorRegistry } = await import('prom-client');
    const folded = await AggregatorRegistry.aggregate(retired.slice(0, count) as object[]).getMetricsAsJSON();
    retired.splice(0, count, folded as unknown as MetricJson[]); // entries pushed meanwhile stay after it
  }
}
