import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { isatty } from 'node:tty';
import pino from 'pino';
import type { LogLevel } from './config.js';

/**
 * The server's log: pino, one JSON object a line on stdout (readable lines on a terminal, when
 * pino-pretty is installed), gathered and written in batches (`LineBuffer`).
 */

export type Logger = pino.Logger;

/**
 * Characters of log lines held while stdout does not take them (a reader that stopped reading):
 * past it, lines are dropped (and counted) rather than held without bound.
 */
export const maxBufferedLogChars = 16 << 20;
/** How soon a write refused by a full pipe is tried again. */
const retryMs = 50;
/** Lines wait at most this long, or until this many characters gathered, before their write. */
const flushMs = 20;
const writeChars = 16 << 10;
/** Most characters one write joins (a backlog is written in batches of this). */
const batchChars = 64 << 10;

/**
 * Where a write starting at `offset` ends: whole lines, at most PIPE_BUF bytes when they fit, so
 * that processes sharing one pipe (--processes N) never interleave inside a line.
 */
function chunkEnd(data: Buffer, offset: number): number {
  if (data.length - offset <= pipeBuf) return data.length;
  const lastNewline = data.lastIndexOf(0x0a, offset + pipeBuf - 1);
  if (lastNewline >= offset) return lastNewline + 1;
  const next = data.indexOf(0x0a, offset); // one line longer than PIPE_BUF: it cannot be atomic
  return next === -1 ? data.length : next + 1;
}
const pipeBuf = 4096;

export interface LoggerOptions {
  /** Readable lines instead of JSON; default: when stdout is a terminal and pino-pretty resolves. */
  pretty?: boolean;
  /** Where JSON lines go; default: a `LineBuffer` on stdout. */
  destination?: pino.DestinationStream;
}

/**
 * Log lines to a file descriptor, gathered for up to `flushMs` (or `writeChars`) and written
 * together: one write(2) per batch, not per line, and no per-turn work (a setImmediate per turn
 * cost as much as the lines when a turn answers only a few requests). Writes are
 * synchronous on a non-blocking descriptor, so they cost the loop a copy, never a wait: what a
 * full pipe refuses is kept (up to `maxChars`, then dropped and counted) and tried again later.
 * Not sonic-boom: with `minLength` it measures its whole pending buffer on every line, which cost
 * more per request than the rest of the routing layer; and its asynchronous writes queue on
 * libuv's threadpool, behind the very kernels (cpp, rust) that keep it busy.
 */
export class LineBuffer implements pino.DestinationStream {
  #lines: string[] = [];
  #chars = 0;
  /** Bytes of a write the descriptor took only in part. */
  #rest: Buffer | undefined;
  #scheduled = false;
  /** A full pipe refused the last write: the retry timer writes next, not every turn. */
  #blocked = false;
  #dropped = 0;

  constructor(
    readonly fd = 1,
    readonly maxChars = maxBufferedLogChars,
    /** How long the exit waits for a full pipe to take the last lines. */
    readonly exitWaitMs = 1000,
  ) {
    // Node makes a pipe or socket on stdout non-blocking when it opens process.stdout, and only
    // then: a reader that stops reading then refuses our writes (EAGAIN) instead of blocking the loop.
    if (fd === 1) void process.stdout;
    process.once('exit', () => this.#flushAtExit());
  }

  /** Characters waiting to be written. */
  get pending(): number {
    return this.#chars;
  }

  /** Lines dropped because the descriptor did not take them in time. */
  get dropped(): number {
    return this.#dropped;
  }

  write(line: string): void {
    if (this.#chars + line.length > this.maxChars) {
      this.#dropped++;
      return;
    }
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= writeChars) {
      if (!this.#blocked) this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(this.#flushScheduled, flushMs).unref();
    }
  }

  readonly #flushScheduled = () => {
    this.#scheduled = false;
    if (!this.#blocked) this.flush();
  };

  /** Writes what the descriptor takes now; the rest is tried again in `retryMs`. */
  flush(done?: (error?: Error) => void): void {
    if (this.#rest !== undefined || this.#lines.length > 0) this.#write();
    done?.();
  }

  /**
   * Writes until nothing is left: each batch joins at most `batchChars` of lines, so a retry after
   * a reader comes back never copies the whole backlog in one turn.
   */
  #write(): void {
    this.#blocked = false;
    while (this.#rest !== undefined || this.#lines.length > 0) {
      const data = this.#rest ?? this.#take();
      this.#rest = undefined;
      this.#chars -= data.length;
      let offset = 0;
      try {
        while (offset < data.length) offset += writeSync(this.fd, data, offset, chunkEnd(data, offset) - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.#rest = data.subarray(offset);
          this.#chars += this.#rest.length;
          this.#blocked = true;
          setTimeout(() => this.flush(), retryMs).unref();
        } else {
          // EPIPE: nobody reads any more, and a log never throws into a request.
          this.#dropped += lineCount(data.subarray(offset)) + this.#lines.length;
          this.#lines = [];
          this.#chars = 0;
        }
        return;
      }
    }
  }

  /** The oldest lines, up to `batchChars` of them (at least one), as bytes. */
  #take(): Buffer {
    let chars = 0;
    let count = 0;
    while (count < this.#lines.length && (count === 0 || chars + this.#lines[count]!.length <= batchChars)) {
      chars += this.#lines[count]!.length;
      count++;
    }
    const taken = this.#lines.splice(0, count).join('');
    const bytes = Buffer.from(taken); // encoded once: its length is the byte count
    this.#chars += bytes.length - taken.length; // #chars counts bytes once taken
    return bytes;
  }

  /**
   * At exit no timer runs again: what a full pipe still refuses is retried here, for at most
   * `exitWaitMs` (1 s), so the shutdown's last lines reach a reader that is only slow.
   */
  #flushAtExit(): void {
    this.flush();
    const until = performance.now() + this.exitWaitMs;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while ((this.#rest !== undefined || this.#lines.length > 0) && performance.now() < until) {
      Atomics.wait(pause, 0, 0, 5);
      this.#write();
    }
  }
}

const lineCount = (data: Buffer): number => {
  let count = 0;
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) count++;
  return count;
};

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false; // a production install without devDependencies: JSON
  }
}

/** The loggers whose lines go to a LineBuffer in pino's default format: access lines skip pino's formatting. */
const lineBuffers = new WeakMap<Logger, { lines: LineBuffer; bindings: string }>();
const base = () => ({ pid: process.pid, hostname: hostname() });

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  if (options.destination) {
    const fields = base();
    const logger = pino({ level, base: fields }, options.destination);
    if (options.destination instanceof LineBuffer) {
      const bindings = `"pid":${fields.pid},"hostname":${JSON.stringify(fields.hostname)}`;
      lineBuffers.set(logger, { lines: options.destination, bindings });
    }
    return logger;
  }
  const pretty = options.pretty ?? (isatty(1) && prettyAvailable());
  if (pretty) {
    // A transport runs pino-pretty on a worker thread: formatting stays off the loop.
    return pino(
      { level, base: base() },
      pino.transport({ target: 'pino-pretty', options: { destination: 1, singleLine: true, ignore: 'hostname' } }),
    );
  }
  return createLogger(level, { destination: new LineBuffer(1) });
}

/** Loggers on stdout, one per level asked for, all on one LineBuffer: one writer per process. */
const onStdout = new Map<LogLevel, Logger>();
let stdoutLines: LineBuffer | undefined;
export function processLogger(level: LogLevel): Logger {
  let logger = onStdout.get(level);
  if (logger === undefined) {
    const pretty = isatty(1) && prettyAvailable();
    stdoutLines ??= pretty ? undefined : new LineBuffer(1);
    logger = createLogger(level, stdoutLines ? { destination: stdoutLines } : { pretty });
    onStdout.set(level, logger);
  }
  return logger;
}

export const clientClosedStatus = 499;

/**
 * One line per request, at `info`: `reqId` (this process's count, in arrival order; with `pid`,
 * unique), `method`,
 * `route` (the pattern), `strategy` (when the route has one), `status`, `ms` (arrival to answer,
 * or to the client leaving), `bytes` (response body). `status` is a number in every line: 499
 * (nginx's "client closed request") with `aborted: true` when the client left unanswered, so a
 * log store keeps one type per field. No child logger per request: one flat object. With the
 * logger `createLogger` made on a LineBuffer, the line is formatted here, in the very form pino
 * writes (level, time, pid, hostname, fields, msg), at a third of pino's cost per line.
 */
export class AccessLog {
  readonly #log: Logger;
  readonly #lines: LineBuffer | undefined;
  readonly #bindings: string;
  /**
   * `,"method":…,"route":…,"strategy":…,"status":` by route, strategy and method, JSON-quoted once:
   * the part of a line the route table decides (bounded: a client's made-up method is not kept).
   */
  readonly #fields = new Map<string, Map<string, Map<string, string>>>();
  #fieldsKept = 0;

  constructor(log: Logger) {
    this.#log = log;
    const fast = lineBuffers.get(log);
    this.#lines = fast?.lines;
    this.#bindings = fast?.bindings ?? '';
  }

  /** False when the level leaves access lines out (checked per request: the level may change at run time). */
  get enabled(): boolean {
    return this.#log.isLevelEnabled('info');
  }

  /** `micros`: arrival to answer in whole µs (the line's `ms` has three decimals at most). */
  write(
    reqId: number,
    method: string,
    route: string,
    /** '' when the request never had one. */
    strategy: string,
    status: number | 'aborted',
    micros: number,
    bytes: number,
  ) {
    const aborted = status === 'aborted';
    const code = aborted ? clientClosedStatus : status;
    if (this.#lines === undefined) {
      const ms = micros / 1e3;
      const named = { reqId, method, route, ...(strategy ? { strategy } : {}), status: code };
      this.#log.info({ ...named, ...(aborted ? { aborted } : {}), ms, bytes }, 'request');
      return;
    }
    this.#lines.write(
      `{"level":30,"time":${Date.now()},${this.#bindings},"reqId":${reqId}${this.#fieldsOf(method, route, strategy)}` +
        `${code}${aborted ? ',"aborted":true' : ''},"ms":${msText(micros)},"bytes":${bytes},"msg":"request"}\n`,
    );
  }

  #fieldsOf(method: string, route: string, strategy = ''): string {
    let byStrategy = this.#fields.get(route);
    if (byStrategy === undefined) {
      byStrategy = new Map();
      this.#fields.set(route, byStrategy);
    }
    let byMethod = byStrategy.get(strategy);
    if (byMethod === undefined) {
      byMethod = new Map();
      byStrategy.set(strategy, byMethod);
    }
    let fields = byMethod.get(method);
    if (fields === undefined) {
      const s = strategy === '' ? '' : `,"strategy":${JSON.stringify(strategy)}`;
      fields = `,"method":${JSON.stringify(method)},"route":${JSON.stringify(route)}${s},"status":`;
      if (this.#fieldsKept < 256) {
        this.#fieldsKept++;
        byMethod.set(method, fields);
      }
    }
    return fields;
  }
}

/** `.5`, `.125`, `.05` … for each count of µs past a whole ms: the shortest decimals, as String(ms) writes them. */
const fractions = Array.from({ length: 1000 }, (_, us) =>
  us === 0 ? '' : `.${String(us).padStart(3, '0').replace(/0+$/, '')}`,
);

/** String(micros / 1000), without the double-to-text conversion (it cost a fifth of a line). */
function msText(micros: number): string {
  return Number.isSafeInteger(micros) && micros >= 0
    ? `${Math.floor(micros / 1000)}${fractions[micros % 1000]}`
    : String(micros / 1000);
}
