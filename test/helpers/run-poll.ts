/** Watching a training run from outside while it runs (tests that kill a run at a chosen moment). */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The checkpoint folder a run has committed (checkpoint/CURRENT), or null while it has none. */
export function committedCheckpoint(runDir: string): string | null {
  try {
    return (JSON.parse(readFileSync(path.join(runDir, 'checkpoint', 'CURRENT'), 'utf8')) as { dir: string }).dir;
  } catch {
    return null;
  }
}

/** Resolves when `pred` holds, polling every `pollMs`; fails with `what` after `timeoutMs`. */
export async function until(pred: () => boolean, timeoutMs: number, what: string, pollMs = 10): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(what ? `timed out waiting ${what}` : 'timed out waiting');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
