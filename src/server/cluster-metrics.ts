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

/** The supervisor's side: `attach` each server process it starts. */
export function clusterMetricsHub(children: () => Iterable<ChildProcess>) {
  const collecting = new Map<number, (from: ChildProcess, metrics: unknown) => void>();
  let next = 0;

  async function merged(): Promise<string> {
    const id = next++;
    const all = [...children()].filter((c) => c.connected);
    const answers = new Map<ChildProcess, unknown>();
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
    const { AggregatorRegistry, Gauge } = await import('prom-client');
    const registry = AggregatorRegistry.aggregate([...answers.values()] as object[]);
    const processes = new Gauge({
      name: 'offloop_scrape_processes',
      help: 'Server processes in this scrape: answered, or missing (did not answer in time: their figures are absent)',
      labelNames: ['state'] as const,
      registers: [registry],
      aggregator: 'first',
    });
    const missing = all.length - answers.size;
    processes.set({ state: 'answered' }, answers.size);
    processes.set({ state: 'missing' }, missing);
    const text = await registry.metrics();
    if (missing === 0) return text;
    const pids = all.filter((c) => !answers.has(c)).map((c) => c.pid);
    return `# offloop: process ${pids.join(', ')} did not answer within ${collectTimeoutMs} ms: left out\n${text}`;
  }

  return {
    attach(child: ChildProcess): void {
      child.on('message', (message: unknown) => {
        if (!isMessage(message)) return;
        if (message.type === 'offloop:metrics-json') collecting.get(message.id)?.(child, message.metrics);
        else if (message.type === 'offloop:metrics-request') {
          void merged().then(
            (text) => child.send({ type: 'offloop:metrics-merged', id: message.id, text } satisfies Message, ignore),
            () => {}, // the asking process times out and answers alone
          );
        }
      });
    },
  };
}
