import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

const reasons: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Payload Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** An error the client caused or must hear about: answered as JSON `{ error, field?, ... }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly options: { field?: string; headers?: Record<string, string>; extra?: Record<string, unknown>; close?: boolean } = {},
  ) {
    super(message);
  }
}

/** Why a request's work was stopped. */
export type StopReason = 'client' | 'timeout' | 'shutdown';

/**
 * One request and its response, made safe for async work on uWebSockets.js: `onAborted` is
 * attached first, everything needed from the (stack-allocated) HttpRequest is copied before any
 * await, every write happens inside `cork` and never after the client left, and the body of a
 * POST starts streaming in at once, under a size limit.
 */
export class Exchange {
  readonly method: string;
  readonly url: string;
  readonly query: URLSearchParams;
  readonly params: readonly string[];
  readonly startedAt = performance.now();
  /** Fires when the client leaves, the request times out or the server shuts down. */
  readonly signal: AbortSignal;
  stopReason: StopReason | undefined;
  /** The response status, once answered; 'aborted' when the client left unanswered. */
  status: number | 'aborted' | undefined;
  /** The strategy label for metrics. */
  strategy = '-';
  readonly body: Promise<Buffer> | undefined;
  /** False while a body is still arriving. */
  bodyComplete = true;
  readonly #res: HttpResponse;
  readonly #controller = new AbortController();
  #clientGone = false;
  readonly #onGone: (() => void)[] = [];

  constructor(res: HttpResponse, req: HttpRequest, paramCount: number, bodyLimit: number | undefined) {
    this.#res = res;
    res.onAborted(() => {
      this.#clientGone = true;
      this.status ??= 'aborted';
      for (const callback of this.#onGone) callback();
      this.stop('client');
    });
    this.signal = this.#controller.signal;
    this.method = req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.query = new URLSearchParams(req.getQuery() ?? '');
    this.params = Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? '');
    if (bodyLimit !== undefined) {
      this.bodyComplete = false;
      this.body = this.#readBody(req.getHeader('content-length'), bodyLimit);
      this.body.then(() => (this.bodyComplete = true), () => {});
      this.body.catch(() => {}); // a route that fails before reading it must not leave it unhandled
    }
  }

  /** True once nothing more may be written: answered, or the client is gone. */
  get finished(): boolean {
    return this.status !== undefined;
  }

  stop(reason: StopReason): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.#controller.abort(reason);
  }

  #readBody(contentLength: string, limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const declared = contentLength === '' ? undefined : Number(contentLength);
      if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) {
        reject(new HttpError(400, 'the Content-Length header is not a valid length', { field: 'content-length', close: true }));
        return;
      }
      if (declared !== undefined && declared > limit) {
        reject(new HttpError(413, `the body may hold at most ${limit} bytes; Content-Length says ${declared}`, { close: true }));
        return;
      }
      // A client that leaves mid-body ends the wait, or the route would await it forever.
      this.#onGone.push(() => reject(new HttpError(400, 'the client left before sending the whole body')));
      // uWS lends each chunk only for the callback's duration: copy it out.
      const whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
      const chunks: Buffer[] = [];
      let received = 0;
      this.#res.onData((chunk, isLast) => {
        if (this.finished) return;
        const bytes = new Uint8Array(chunk);
        if (received + bytes.length > limit || (whole !== undefined && received + bytes.length > whole.length)) {
          received = Infinity;
          reject(new HttpError(413, `the body may hold at most ${limit} bytes`, { close: true }));
          return;
        }
        if (whole) whole.set(bytes, received);
        else chunks.push(Buffer.from(bytes));
        received += bytes.length;
        if (isLast) resolve(whole ? whole.subarray(0, received) : Buffer.concat(chunks, received));
      });
    });
  }

  /** Answers JSON. Returns false when the client is already gone or it was answered before. */
  json(status: number, value: unknown, headers: Record<string, string> = {}, close = false): boolean {
    return this.#send(status, 'application/json', JSON.stringify(value), headers, close);
  }

  text(status: number, contentType: string, body: string, headers: Record<string, string> = {}): boolean {
    return this.#send(status, contentType, body, headers, false);
  }

  fail(error: HttpError): boolean {
    const { field, headers = {}, extra = {}, close = false } = error.options;
    // Say so when the connection closes after this answer (uWS closes it but does not say).
    const sent = close ? { ...headers, connection: 'close' } : headers;
    return this.json(error.status, { error: error.message, ...(field === undefined ? {} : { field }), ...extra }, sent, close);
  }

  #send(status: number, contentType: string, body: string | Uint8Array, headers: Record<string, string>, close: boolean): boolean {
    if (this.finished) return false;
    this.status = status;
    const res = this.#res;
    res.cork(() => {
      this.#head(status, contentType, headers);
      res.end(body, close);
    });
    return true;
  }

  #head(status: number, contentType: string, headers: Record<string, string>): void {
    this.#res.writeStatus(`${status} ${reasons[status] ?? ''}`).writeHeader('content-type', contentType);
    for (const [name, value] of Object.entries(headers)) this.#res.writeHeader(name, value);
  }

  /**
   * Answers bytes with backpressure: `tryEnd` writes what the socket takes now, and `onWritable`
   * continues from the offset the socket reached, so a large body never piles up in memory twice.
   */
  bytes(status: number, contentType: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.status = status;
    const res = this.#res;
    return new Promise((resolve) => {
      res.cork(() => {
        this.#head(status, contentType, headers);
        const start = res.getWriteOffset();
        const [ok, done] = res.tryEnd(data, data.length);
        if (done || this.#clientGone) return resolve();
        if (!ok) {
          res.onWritable((offset) => {
            if (this.#clientGone) {
              resolve();
              return true;
            }
            const [sent, finished] = res.tryEnd(data.subarray(offset - start), data.length);
            if (finished) resolve();
            return sent;
          });
        }
        // A client that leaves mid-write settles it too.
        this.#onGone.push(resolve);
      });
    });
  }
}
