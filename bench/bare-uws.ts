/**
 * The baseline for routing overhead: the smallest uWebSockets.js server that answers what
 * offloop answers on the measured routes (same bodies, same content type), with no routing
 * table, no Exchange, no metrics, no log. offloop's req/s ÷ this server's is what offloop's
 * machinery costs. Run as its own process: `node dist/bench/bare-uws.js [port] [bodies]`, where
 * bodies is a JSON object from path (no query) to the body to send; any other path gets /ping's.
 * It prints the URL it listens on.
 */
import * as uWS from '../src/server/uws.js';

const pong = JSON.stringify({ pong: true });
const bodies = new Map<string, string>(Object.entries(JSON.parse(process.argv[3] ?? '{}') as Record<string, string>));
const host = '127.0.0.1';
const app = uWS.App().get('/*', (res, req) => {
  const body = bodies.get(req.getUrl()) ?? pong;
  res.cork(() => {
    res.writeHeader('content-type', 'application/json').end(body);
  });
});

app.listen(host, Number(process.argv[2] ?? 0), (socket) => {
  if (!socket) {
    console.error('bare-uws: could not listen');
    process.exit(1);
  }
  const port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
  console.log(`bare-uws listening on http://${host}:${port} (pid ${process.pid})`);
});

// Close the listen socket and every connection, then let the loop end.
process.on('SIGTERM', () => app.close());
