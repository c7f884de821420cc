/**
 * Following a run that another process trains (the CLI, seen from the server): its history rows as
 * they are recorded, for as long as the process holds the run's training lock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runLockHolder } from './lock.js';
import { locateRunModel } from './model.js';
import { readHistory } from './read.js';
import type { HistoryRow } from './types.js';

/** How a followed run ended: with its final model, or before it (stopped, killed, failed). */
export type FollowEnd = 'done' | 'stopped';

export interface FollowOptions {
  /** How often the history and the lock are read, ms. */
  pollMs?: number;
  /** Stops following (the listener went away). */
  signal?: AbortSignal;
}

/**
 * Calls `onRow` with each history row after the first `seen`, as the run records it, until no
 * process trains the run (at once when none does). A resumed run rewrites its history back to its
 * checkpoint; rows are then followed from there.
 */
export async function followTraining(runDir: string, seen: number, onRow: (row: HistoryRow) => void, opts: FollowOptions = {}): Promise<FollowEnd> {
  const pollMs = opts.pollMs ?? 1000;
  for (;;) {
    const training = (await runLockHolder(runDir).catch(() => null)) !== null;
    // Read after the lock: the rows a training recorded before it let go are all there.
    const rows = await readHistory(runDir).catch(() => null);
    if (rows) {
      for (const row of rows.slice(seen)) onRow(row);
      seen = rows.length;
    }
    if (!training || opts.signal?.aborted) break;
    await sleep(pollMs, undefined, { signal: opts.signal }).catch(() => {}); // aborted: the loop ends
  }
  const model = await locateRunModel(runDir).catch(() => null);
  return model && !model.fromCheckpoint ? 'done' : 'stopped';
}
