import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { eventually } from './server.js';

export interface RawResponse {
  status: number;
  /** The header block as sent, lines split. */
  headerLines: string[];
  body: string;
}

export interface RawReply {
  /** Status codes of the responses seen, in order. */
  statuses: number[];
  /** Every complete response, parsed. */
  responses: RawResponse[];
  /** Whether the server closed the connection. */
  closed: boolean;
  text: string;
}

/** The complete responses at the start of `text` (each with a Content-Length, as uWS sends them). */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return responses;
    const headerLines = rest.slice(0, end).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(headerLines[0] ?? '');
    if (!status) return responses;
    const length = Number(
      headerLines
        .find((l) => /^content-length:/i.test(l))
        ?.split(':')[1]
        ?.trim() ?? 0,
    );
    if (rest.length < end + 4 + length) return responses;
    responses.push({ status: Number(status[1]), headerLines, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
}

/**
 * Writes raw bytes to the server and collects what comes back until the server closes the
 * connection, `responses` complete responses have arrived, or it stays quiet for `quietMs`
 * after its last byte (or `waitMs` with none at all).
 */
export function raw(
  port: number,
  chunks: (string | Uint8Array)[],
  { quietMs = 150, waitMs = 3000, gapMs = 0, responses = Infinity } = {},
): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    let timer: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponses(text);
      resolve({
        statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])),
        responses: parsed,
        closed,
        text,
      });
    };
    const wait = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(finish, ms);
    };
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        socket.write(chunk);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (parseResponses(text).length >= responses) return finish();
      wait(quietMs);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
    wait(waitMs);
  });
}

/**
 * Opens a connection, writes `head` and the first part of a body, and leaves it there: a client
 * whose body stopped arriving. Resolves once written; `reply` settles when the server answers
 * and closes (or the socket is destroyed).
 */
export function stall(
  port: number,
  head: string,
  partial: Uint8Array | string,
): Promise<{ socket: net.Socket; reply: Promise<RawReply> }> {
  return new Promise((resolveStarted) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('error', () => {});
    socket.on('data', (d) => (text += d.toString('latin1')));
    const reply = new Promise<RawReply>((resolve) =>
      socket.on('close', () =>
        resolve({
          statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])),
          responses: parseResponses(text),
          closed: true,
          text,
        }),
      ),
    );
    socket.on('connect', () =>
      socket.write(head, () => socket.write(partial, () => resolveStarted({ socket, reply }))),
    );
  });
}

/** Sends a request (sometimes only half of it) and destroys the socket after `cutMs`. */
export function cut(port: number, text: string, cutMs: number, half: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(half ? text.slice(0, Math.max(1, text.length >> 1)) : text);
      setTimeout(() => socket.destroy(), cutMs);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** A loopback port nothing listens on now (for servers the tests start themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Whether the server listening on `serverPort` has read every byte that the client at `clientPort`
 * sent it: its end of that connection holds nothing unread (Linux: /proc/net/tcp's rx_queue).
 */
export async function serverHasRead(serverPort: number, clientPort: number): Promise<boolean> {
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const line = (await readFile('/proc/net/tcp', 'latin1'))
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find(([, local, remote]) => local === hex(serverPort) && remote === hex(clientPort));
  return line !== undefined && Number.parseInt(line[4]!.split(':')[1]!, 16) === 0;
}

/**
 * GETs `path` on a connection of its own and resolves once the server has read the request: its
 * handler has then been called (uWS calls it as the request is read), and anything sent from now
 * on reaches the server after it. `status` settles with the answer's (undefined: none came).
 */
export async function getRead(port: number, path: string): Promise<{ status: Promise<number | undefined> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let text = '';
  const status = new Promise<number | undefined>((resolve) => {
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const [reply] = parseResponses(text);
      if (reply) {
        socket.destroy();
        resolve(reply.status);
      }
    });
    socket.on('close', () => resolve(undefined));
  });
  await new Promise<void>((resolve) => socket.on('connect', resolve));
  await new Promise<void>((resolve) => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, () => resolve()));
  await eventually(() => serverHasRead(port, socket.localPort!), 5);
  return { status };
}
