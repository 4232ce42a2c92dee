import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

const reasons: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** An error the client caused or must hear about: answered as JSON `{ error, field?, ... }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly options: {
      field?: string;
      headers?: Record<string, string>;
      extra?: Record<string, unknown>;
      close?: boolean;
    } = {},
  ) {
    super(message);
  }
}

/** Why a request's work was stopped. */
export type StopReason = 'client' | 'timeout' | 'shutdown';

/** What a route accepts as its body, decided before a byte of it is read. */
export interface BodyRule {
  /** The media type the body must be declared as (else 415). */
  type: 'application/json' | 'application/octet-stream';
  /** Largest body in bytes (413 past it). */
  limit: number;
  /** The body must be exactly `limit` bytes (blur: width·height·4). */
  exact?: boolean;
  /** The argument a wrong size is blamed on. */
  field?: string;
}

/**
 * Bytes buffered across every request's body, bounded: a body is charged as its bytes arrive
 * (not for what its Content-Length promises) and released when its request ends.
 */
export class BodyMemory {
  used = 0;
  constructor(readonly max: number) {}

  reserve(bytes: number): boolean {
    if (this.used + bytes > this.max) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

/** Status lines, made once. */
const statusLines: Record<number, string> = Object.fromEntries(
  Object.entries(reasons).map(([status, reason]) => [status, `${status} ${reason}`]),
);

/** Each status line with its Content-Type header, by content type: uWS writes them in one call. */
const headBlocks = new Map<string, Map<number, string>>();

/**
 * The status line and the Content-Type header as one block for `writeStatus`, which writes its
 * text raw between `HTTP/1.1 ` and CRLF: one call into uWS instead of two. The types are the
 * routes' own constants (no CR or LF; checked).
 */
function statusWithType(status: number, contentType: string): string {
  let byStatus = headBlocks.get(contentType);
  if (byStatus === undefined) {
    if (/[\r\n]/.test(contentType))
      throw new Error(`a content type holds a line break: ${JSON.stringify(contentType)}`);
    byStatus = new Map();
    headBlocks.set(contentType, byStatus);
  }
  let block = byStatus.get(status);
  if (block === undefined) {
    block = `${statusLines[status] ?? `${status} `}\r\ncontent-type: ${contentType}`;
    byStatus.set(status, block);
  }
  return block;
}

const noParams: readonly string[] = Object.freeze([]);
const noHeaders: Readonly<Record<string, string>> = Object.freeze({});
/** The route's `:name` parameters, copied out of the HttpRequest. */
function parameters(req: HttpRequest, count: number): string[] {
  const values: string[] = [];
  for (let i = 0; i < count; i++) values.push(req.getParameter(i) ?? '');
  return values;
}
/** The last request's number in this process. */
let lastId = 0;

const busy = (what: string) =>
  new HttpError(503, `the server holds as many request bodies as it may (${what}, --max-body-memory); retry shortly`, {
    headers: { 'retry-after': '1' },
    close: true,
  });

/**
 * One request and its response, made safe for async work on uWebSockets.js: `onAborted` is
 * attached before uWS's handler returns (no abort can arrive while it runs; a request answered
 * by then needs none), everything needed from the (stack-allocated) HttpRequest is copied before
 * any await, every write after the handler returned happens inside `cork` and never after the
 * client left, and a POST body is read only once its route has accepted it (type, length,
 * capacity), under that route's limit. `handlerReturned` must be called as uWS's handler returns.
 */
export class Exchange {
  /** This process's number for the request, in arrival order (the access log's `reqId`). */
  readonly id = ++lastId;
  readonly method: string;
  readonly url: string;
  readonly params: readonly string[];
  /** The body's headers: read for requests that may have a body (not GET), '' otherwise. */
  readonly contentLength: string = '';
  readonly contentType: string = '';
  readonly transferEncoding: string = '';
  readonly startedAt = performance.now();
  /** When it was answered, or the client left (performance.now()). */
  answeredAt = 0;
  /** The response body handed to uWS: its length is counted only if asked (the access line). */
  #sent: string | number = 0;
  stopReason: StopReason | undefined;
  /** The response status, once answered; 'aborted' when the client left unanswered. */
  status: number | 'aborted' | undefined;
  /** The strategy the route ran its work on; '' until a route names one (404, 405, refusals). */
  strategy = '';
  /** Whether stopping this request's work really stops it (the 504 and 503 bodies say so). */
  cancellable = true;
  body: Promise<Buffer> | undefined;
  /** False while a body is still arriving. */
  bodyComplete = true;
  readonly #res: HttpResponse;
  /** The raw query string, parsed only if a route asks (copied now: the HttpRequest dies at the first await). */
  readonly #rawQuery: string;
  #query: URLSearchParams | undefined;
  /** Made on the first `signal` read: most requests never need one, and each costs the loop. */
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #clientGone = false;
  #onGone: (() => void)[] | undefined;
  /** Ends a body still arriving: the request is over, whatever the route awaits. */
  #dropBody: ((error: HttpError) => void) | undefined;
  #memory: BodyMemory | undefined;
  #charged = 0;
  /** Set while a large response is being written: closes the connection to end it early. */
  #cutWrite: (() => void) | undefined;
  /**
   * True while uWS's handler for this request still runs: uWS has corked its socket then, so an
   * answer needs no `cork` call (and closure) of its own. Cleared by `handlerReturned`.
   */
  #inHandler = true;
  /** uWS has the whole response: no abort can reach it any more. */
  #ended = false;

  /** `method`: the route's, when known (saves asking uWS); upper case. Call it in uWS's handler. */
  constructor(res: HttpResponse, req: HttpRequest, paramCount: number, method?: string) {
    this.#res = res;
    this.method = method ?? req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.#rawQuery = req.getQuery() ?? '';
    this.params = paramCount === 0 ? noParams : parameters(req, paramCount);
    if (this.method !== 'GET') {
      this.contentLength = req.getHeader('content-length');
      this.contentType = req.getHeader('content-type');
      this.transferEncoding = req.getHeader('transfer-encoding');
    }
  }

  /** The query string's parameters, parsed on first use. */
  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.#rawQuery);
    return this.#query;
  }

  /**
   * One query parameter's first value, as `query.get(name)` says; a query without escapes ('%',
   * '+') is scanned for it instead of parsed whole (the kernel routes read one or two keys).
   */
  queryParam(name: string): string | null {
    const raw = this.#rawQuery;
    if (this.#query !== undefined || raw.charCodeAt(0) === 0x3f || raw.includes('%') || raw.includes('+')) {
      return this.query.get(name);
    }
    for (let start = 0; start < raw.length; ) {
      let end = raw.indexOf('&', start);
      if (end === -1) end = raw.length;
      const equals = raw.indexOf('=', start);
      const keyEnd = equals === -1 || equals > end ? end : equals;
      if (end > start && keyEnd - start === name.length && raw.startsWith(name, start)) {
        return keyEnd === end ? '' : raw.slice(keyEnd + 1, end);
      }
      start = end + 1;
    }
    return null;
  }

  /**
   * Call it as uWS's handler for this request returns: from then on the client may leave (watched
   * now, unless the response is already whole) and answers cork their writes.
   */
  handlerReturned(): void {
    this.#inHandler = false;
    if (!this.#ended) this.#res.onAborted(() => this.#clientLeft());
  }

  #clientLeft(): void {
    this.#clientGone = true;
    if (this.status === undefined) {
      this.status = 'aborted';
      this.answeredAt = performance.now();
    }
    if (this.#onGone) for (const callback of this.#onGone) callback();
    this.stop('client');
  }

  /** Response body bytes handed to uWS (what a client that left mid-write got may be less). */
  get bytesSent(): number {
    if (typeof this.#sent === 'string') this.#sent = Buffer.byteLength(this.#sent);
    return this.#sent;
  }

  /**
   * Fires when the client leaves, the request times out or the server shuts down, once, with
   * the StopReason as its reason. Asked for after the stop, it is already aborted.
   */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      if (this.stopReason !== undefined) {
        this.#signal = AbortSignal.abort(this.stopReason);
      } else {
        this.#controller = new AbortController();
        this.#signal = this.#controller.signal;
      }
    }
    return this.#signal;
  }

  #whenGone(callback: () => void): void {
    if (this.#onGone) this.#onGone.push(callback);
    else this.#onGone = [callback];
  }

  /** True once nothing more may be written: answered, or the client is gone. */
  get finished(): boolean {
    return this.status !== undefined;
  }

  stop(reason: StopReason): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    // A response still being written to a client that does not read it would hold its request
    // (and its body's memory) until uWS's idle timeout: past our own deadline, cut it.
    if (reason !== 'client') this.#cutWrite?.();
    const status = reason === 'client' ? 400 : reason === 'timeout' ? 408 : 503;
    this.#dropBody?.(new HttpError(status, `the request was stopped (${reason}) before its body arrived`));
    this.#controller?.abort(reason);
  }

  /** Frees what the body holds: called once the request has ended. */
  release(): void {
    this.#dropBody?.(new HttpError(500, 'the request ended before its body arrived'));
    this.#memory?.release(this.#charged);
    this.#charged = 0;
  }

  /**
   * Checks the declared type and length against `rule` and starts reading the body; throws the
   * HttpError to answer instead (the connection then closes: its body was never read). Call it
   * in the request handler itself, before any await: uWS drops data nobody listens for.
   */
  readBody(rule: BodyRule, memory: BodyMemory): void {
    if (this.method === 'GET') throw new Error('a GET request has no body to read (its headers were not copied)');
    const mediaType = this.contentType.split(';')[0]!.trim().toLowerCase();
    if (mediaType !== rule.type) {
      const got = this.contentType === '' ? 'none' : JSON.stringify(this.contentType.slice(0, 60));
      throw new HttpError(415, `the body must be sent as Content-Type: ${rule.type}; got ${got}`, {
        field: 'content-type',
        close: true,
      });
    }
    const chunked = /(^|,)\s*chunked\s*$/i.test(this.transferEncoding);
    const declared = this.contentLength === '' ? undefined : Number(this.contentLength);
    if (declared === undefined && !chunked) {
      throw new HttpError(411, 'a body needs a Content-Length or Transfer-Encoding: chunked', {
        field: 'content-length',
        close: true,
      });
    }
    if (declared !== undefined && !(/^\d+$/.test(this.contentLength) && Number.isSafeInteger(declared))) {
      const field = 'content-length';
      throw new HttpError(400, 'the Content-Length header is not a valid length', { field, close: true });
    }
    const field = rule.field ?? 'body';
    const sized = (bytes: number, known: boolean) => {
      if (!(bytes > rule.limit)) return undefined;
      const said = known ? `Content-Length says ${bytes}` : 'more arrived';
      return new HttpError(
        413,
        `the body may hold ${rule.exact ? 'exactly' : 'at most'} ${rule.limit} bytes; ${said}`,
        {
          field,
          close: true,
        },
      );
    };
    if (declared !== undefined) {
      const tooLarge = sized(declared, true);
      if (tooLarge) throw tooLarge;
      if (rule.exact && declared !== rule.limit) {
        const message = `the body must hold exactly ${rule.limit} bytes; Content-Length says ${declared}`;
        throw new HttpError(400, message, { field, close: true });
      }
      // It could never be held whole now: refuse before reading any of it.
      if (memory.used + declared > memory.max) throw busy(`${memory.used} of ${memory.max} bytes in use`);
    }
    this.#memory = memory;
    this.bodyComplete = false;
    this.body = new Promise<Buffer>((resolve, reject) => {
      // uWS lends each chunk only for the callback's duration: copy it out. The chunks grow with
      // what really arrives; a declared length reserves nothing.
      let chunks: Buffer[] = [];
      let received = 0;
      const fail = (error: HttpError) => {
        this.#dropBody = undefined;
        chunks = [];
        reject(error);
      };
      this.#dropBody = fail;
      // A client that leaves mid-body ends the wait, or the route would await it forever.
      this.#whenGone(() => this.#dropBody?.(new HttpError(400, 'the client left before sending the whole body')));
      this.#res.onData((chunk, isLast) => {
        if (this.#dropBody !== fail) return;
        const size = chunk.byteLength;
        const pastDeclared = declared !== undefined && received + size > declared;
        const tooLarge = sized(received + size, false) ?? (pastDeclared ? sized(Infinity, false) : undefined);
        if (tooLarge) return fail(tooLarge);
        if (!memory.reserve(size)) return fail(busy(`${memory.max} bytes`));
        this.#charged += size;
        chunks.push(Buffer.from(new Uint8Array(chunk)));
        received += size;
        if (!isLast) return;
        if (rule.exact && received !== rule.limit) {
          return fail(
            new HttpError(400, `the body must hold exactly ${rule.limit} bytes; ${received} arrived`, { field }),
          );
        }
        this.#dropBody = undefined;
        this.bodyComplete = true;
        const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
        chunks = [];
        resolve(whole);
      });
    });
    this.body.catch(() => {}); // a route that fails before reading it must not leave it unhandled
  }

  /** Answers JSON. Returns false when the client is already gone or it was answered before. */
  json(status: number, value: unknown, headers: Readonly<Record<string, string>> = noHeaders, close = false): boolean {
    return this.#send(status, 'application/json', JSON.stringify(value), headers, close);
  }

  text(
    status: number,
    contentType: string,
    body: string,
    headers: Readonly<Record<string, string>> = noHeaders,
  ): boolean {
    return this.#send(status, contentType, body, headers, false);
  }

  fail(error: HttpError): boolean {
    const { field, headers = noHeaders, extra = {}, close = false } = error.options;
    // uWS writes its own `Connection: close` when asked to close: we add none (one header, not two).
    return this.json(
      error.status,
      { error: error.message, ...(field === undefined ? {} : { field }), ...extra },
      headers,
      close,
    );
  }

  #send(
    status: number,
    contentType: string,
    body: string | Uint8Array,
    headers: Readonly<Record<string, string>>,
    close: boolean,
  ): boolean {
    if (this.finished) return false;
    this.status = status;
    this.answeredAt = performance.now();
    this.#sent = typeof body === 'string' ? body : body.byteLength;
    // A body still arriving is never read now: the connection must close after the answer.
    const closing = close || !this.bodyComplete;
    this.#dropBody?.(new HttpError(status, 'the request was answered before its body arrived'));
    const res = this.#res;
    this.#ended = true;
    if (this.#inHandler) {
      this.#head(status, contentType, headers);
      res.end(body, closing);
    } else {
      res.cork(() => {
        this.#head(status, contentType, headers);
        res.end(body, closing);
      });
    }
    return true;
  }

  #head(status: number, contentType: string, headers: Readonly<Record<string, string>>): void {
    this.#res.writeStatus(statusWithType(status, contentType));
    if (headers !== noHeaders) for (const name in headers) this.#res.writeHeader(name, headers[name]!);
  }

  /**
   * Answers bytes with backpressure: `tryEnd` writes what the socket takes now, and `onWritable`
   * continues from the offset the socket reached, so a large body never piles up in memory twice.
   */
  bytes(status: number, contentType: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.status = status;
    this.answeredAt = performance.now();
    this.#sent = data.byteLength;
    const res = this.#res;
    return new Promise((resolve) => {
      res.cork(() => {
        this.#head(status, contentType, headers);
        const start = res.getWriteOffset();
        const [ok, done] = res.tryEnd(data, data.length);
        this.#ended = done;
        if (done || this.#clientGone) return resolve();
        this.#cutWrite = () => {
          this.#cutWrite = undefined;
          if (!this.#clientGone) res.close(); // runs onAborted, which settles this write
        };
        if (!ok) {
          res.onWritable((offset) => {
            if (this.#clientGone) {
              resolve();
              return true;
            }
            const [sent, finished] = res.tryEnd(data.subarray(offset - start), data.length);
            if (finished) {
              this.#ended = true;
              this.#cutWrite = undefined;
              resolve();
            }
            return sent;
          });
        }
        // A client that leaves mid-write settles it too.
        this.#whenGone(resolve);
      });
    });
  }
}
