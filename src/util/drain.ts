/**
 * Waiting for stdout and stderr to be written out before the process exits.
 *
 * On a pipe, Node writes what the pipe takes at once and queues the rest in the process; a pipe
 * holds 64 KiB, so a reader slower than the writer leaves the tail of a large output queued.
 * `process.exit()` drops that queue. Exiting only after both streams are empty keeps every byte,
 * however slowly the other end reads.
 */
import type { Writable } from 'node:stream';

/**
 * Resolves once everything written to `stream` so far has been handed to the operating system,
 * or once the stream can take no more (its reader went away: EPIPE, or it was closed).
 */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded || stream.writableLength === 0) {
      resolve();
      return;
    }
    const done = () => {
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('error', done);
    stream.once('close', done);
    // An empty write's callback runs after every chunk queued before it has been written.
    stream.write('', () => done());
  });
}

/** Exits with `code` once stdout and stderr have both been written out. */
export async function exitWhenDrained(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
