import { connect, type Socket } from 'node:net';
import type { ProbeFigures } from './results.js';
import { summarize } from './stats.js';

/**
 * The latency probe: GET /ping at a fixed rate on one keep-alive connection of its own, each
 * latency recorded. It sends on schedule whether or not the previous ping has come back (HTTP/1.1
 * pipelining; answers arrive in order), so a blocked server cannot make the probe quietly send
 * less often and hide the stall (coordinated omission): every ping that waited is counted.
 */
export interface Probe {
  /** Stops sending, waits up to `drainMs` for the pings still out, and summarises. */
  stop(drainMs?: number): Promise<ProbeFigures & { samples: number[] }>;
}

const headerEnd = Buffer.from('\r\n\r\n');

export async function startProbe(url: string, intervalMs: number, path = '/ping'): Promise<Probe> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port), noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`);

  const sentAt: number[] = []; // send times of pings still out, oldest first
  let head = 0;
  const latencies: number[] = [];
  let failed = 0;
  let buffered: Buffer = Buffer.alloc(0);
  let socketError: Error | undefined;
  let drained: (() => void) | undefined;

  // Errors end the probe; stop() reports them (a throw here would take the whole run down).
  const fail = (error: Error) => {
    socketError ??= error;
    socket.destroy();
    drained?.();
  };
  socket.on('error', fail);
  socket.on('end', () => fail(new Error('the server closed the probe connection')));
  socket.on('data', (chunk: Buffer) => {
    const now = performance.now();
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    // Take every complete response off the front (uWS always sends Content-Length for these).
    for (;;) {
      const end = buffered.indexOf(headerEnd);
      if (end < 0) break;
      const head_ = buffered.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head_);
      if (!length) return fail(new Error(`probe: a response without Content-Length:\n${head_}`));
      const total = end + 4 + Number(length[1]);
      if (buffered.length < total) break;
      buffered = buffered.subarray(total);
      const sent = sentAt[head++];
      if (sent === undefined) return fail(new Error('probe: more responses than requests'));
      if (head_.startsWith('HTTP/1.1 200')) latencies.push(now - sent);
      else failed++;
    }
    if (head === sentAt.length) drained?.();
  });

  const timer = setInterval(() => {
    if (socketError) return;
    sentAt.push(performance.now());
    socket.write(request);
  }, intervalMs);

  return {
    async stop(drainMs = 30_000) {
      clearInterval(timer);
      socket.removeAllListeners('end');
      if (head < sentAt.length && !socketError) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, drainMs).unref();
        });
      }
      socket.destroy();
      if (socketError) throw new Error(`the ping probe failed: ${socketError.message}`);
      const lost = sentAt.length - head + failed;
      return { ...summarize(latencies), lost, samples: latencies };
    },
  };
}
