import net from 'node:net';

export interface RawReply {
  /** Status codes of the responses seen, in order. */
  statuses: number[];
  /** Whether the server closed the connection. */
  closed: boolean;
  text: string;
}

/**
 * Writes raw bytes to the server and collects what comes back until the server closes the
 * connection or stays quiet for `quietMs` after its last byte (or `waitMs` with none at all).
 */
export function raw(port: number, chunks: (string | Uint8Array)[], { quietMs = 150, waitMs = 3000, gapMs = 0 } = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    let timer: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])), closed, text });
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
