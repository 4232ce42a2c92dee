import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { LineBuffer } from '../src/server/log.js';

/** A pipe whose reader reads nothing until told to, then counts what it got. */
function stalledReader() {
  // It waits for one byte on fd 3 before it reads its stdin, the pipe under test.
  const child = spawn('sh', ['-c', 'head -c 1 <&3 >/dev/null; exec wc -c'], {
    stdio: ['pipe', 'pipe', 'ignore', 'pipe'],
  });
  let counted = '';
  child.stdout!.on('data', (d: Buffer) => (counted += d));
  const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  return {
    fd,
    /** Lets it read; closes the pipe once `closeWhen()`; resolves with the bytes it read. */
    async drain(closeWhen: () => boolean): Promise<number> {
      // 'close', not 'exit': 'exit' may come before wc's output has been read from its stdout.
      const exited = new Promise((resolve) => child.once('close', resolve));
      (child.stdio[3] as NodeJS.WritableStream).write('g');
      while (!closeWhen()) await new Promise((resolve) => setTimeout(resolve, 20));
      child.stdin!.end();
      await exited;
      return Number(counted.trim());
    },
  };
}

// The buffer counts bytes once it has encoded a batch and characters before: multi-byte lines
// must leave it at exactly 0 pending too, or the drain below never ends.
const lines = {
  ascii: `${JSON.stringify({ msg: 'x'.repeat(1000) })}\n`,
  'multi-byte UTF-8': `${JSON.stringify({ msg: 'é€😀'.repeat(200) })}\n`,
};
for (const [kind, line] of Object.entries(lines)) {
  const title =
    kind === 'ascii'
      ? 'a reader that stops reading neither blocks the loop nor grows the buffer past its bound'
      : `${kind} lines: a stalled reader, then every line not dropped arrives whole and nothing stays pending`;
  test(title, async (t) => {
    const reader = stalledReader();
    const buffer = new LineBuffer(reader.fd, 256 << 10);
    const total = 4000; // 4 MiB or more: past what the pipe (64 KiB) and the buffer (256 KiB) hold
    let turnsMeanwhile = 0;
    const ticker = setInterval(() => turnsMeanwhile++, 1);
    for (let i = 0; i < total; i++) {
      buffer.write(line);
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    buffer.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    clearInterval(ticker);
    t.true(turnsMeanwhile > 0, 'the loop kept turning');
    t.true(buffer.dropped > 0, 'lines past the bound were dropped');
    t.true(buffer.dropped < total);
    // Once it reads again, every line that was not dropped arrives, whole.
    const bytes = await reader.drain(() => {
      buffer.flush();
      return buffer.pending === 0;
    });
    const lineBytes = Buffer.byteLength(line);
    t.is(bytes % lineBytes, 0, 'whole lines only');
    t.is(bytes / lineBytes, total - buffer.dropped);
  });
}

test('at exit, the lines a full pipe still refuses are written once the reader reads, none lost', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/log-exit.js', import.meta.url));
  const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const closed = new Promise((resolve) => child.stdout!.once('close', resolve));
  const exiting = await new Promise<{ exiting: number }>((resolve) => child.once('message', resolve as never));
  t.true(exiting.exiting > 0, 'the pipe refused some lines before the exit');
  let bytes = 0;
  child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
  t.is(await exited, 0);
  await closed;
  const line = `${JSON.stringify({ msg: 'x'.repeat(200) })}\n`;
  t.is(bytes, 10_000 * line.length);
});
