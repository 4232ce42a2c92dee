/**
 * The bare worker_threads baseline for dispatch cost: it answers every message with the same
 * message, so a round trip is exactly one postMessage each way and nothing else.
 */
import { parentPort } from 'node:worker_threads';

const port = parentPort!;
port.on('message', (message: unknown) => port.postMessage(message));
