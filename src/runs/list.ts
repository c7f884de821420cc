/** The runs under a folder (runs/ by default), for listings. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import { isValidRunId } from './files.js';
import { runLockHolder, type LockHolder } from './lock.js';
import { hasRunConfig, readEvalReport, readRunConfig } from './read.js';
import type { EvalResult, RunConfig } from './types.js';

export interface RunListing {
  id: string;
  dir: string;
  config: RunConfig | null;
  /** The latest evaluation, if any. */
  lastEval: EvalResult | null;
  /** The process training the run now (its training lock's holder), if any. */
  trainedBy: LockHolder | null;
  /** Why the record could not be read, when it could not. */
  error?: string;
}

/** Every sub-folder of `root` that holds a config.json, by id; a damaged record is listed with its error. */
export async function listRuns(root: string): Promise<RunListing[]> {
  const entries = await fs.readdir(root, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw e;
  });
  const runs: RunListing[] = [];
  for (const e of entries.filter((d) => d.isDirectory() && isValidRunId(d.name)).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(root, e.name);
    if (!(await hasRunConfig(dir))) continue;
    const trainedBy = await runLockHolder(dir).catch(() => null);
    try {
      const report = await readEvalReport(dir);
      runs.push({ id: e.name, dir, config: await readRunConfig(dir), lastEval: report?.results.at(-1) ?? null, trainedBy });
    } catch (err) {
      runs.push({ id: e.name, dir, config: null, lastEval: null, trainedBy, error: errorMessage(err) });
    }
  }
  return runs;
}
