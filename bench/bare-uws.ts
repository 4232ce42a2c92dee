/**
 * The baseline for routing overhead: the smallest uWebSockets.js server that answers what
 * offloop's /ping answers (same body, same content type), with no routing table, no Exchange,
 * no metrics. offloop's /ping req/s ÷ this server's req/s is what offloop's machinery costs.
 * Run as its own process: `node dist/bench/bare-uws.js [port]`; it prints the URL it listens on.
 */
import * as uWS from '../src/server/uws.js';

const body = JSON.stringify({ pong: true });
const host = '127.0.0.1';
const app = uWS.App().get('/*', (res) => {
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
