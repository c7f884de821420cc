/**
 * Paths in a sweep on a queue. Every machine mounts the shared runs folder where it likes
 * (`--runs`), so what a queued job names inside it travels relative to that folder, and each worker
 * resolves it against its own mount: the sweep's folder, and a distilled job's teacher runs.
 */
import path from 'node:path';
import { loadedPath, mapTeacherPaths } from '../runs/record-paths.js';
import { UserError } from '../util/errors.js';
import type { SweepJob } from './definition.js';

/** `p` relative to the runs folder, or null when it lies outside. */
export function insideRuns(runsRoot: string, p: string): string | null {
  const rel = path.relative(path.resolve(runsRoot), path.resolve(p));
  return rel.startsWith('..') || path.isAbsolute(rel) ? null : rel;
}

/** `job` with each teacher run's path mapped (sweep.json's stored form, a queued job's, a worker's). */
export const mapJobTeacher = (job: SweepJob, map: (p: string) => string): SweepJob => ({ ...job, hyper: mapTeacherPaths(job.hyper, map) });

/** The job as it goes on the queue: its teacher runs relative to the runs folder (refused when outside it). */
export const jobForQueue = (job: SweepJob, runsRoot: string): SweepJob =>
  mapJobTeacher(job, (p) => {
    const rel = insideRuns(runsRoot, p);
    if (rel === null) throw new UserError(`--teacher ${p} is not inside --runs ${runsRoot}: workers on other machines find a teacher in the shared runs folder`);
    return rel;
  });

/** The queued job as one worker runs it: its teacher runs under this worker's mount of the runs folder. */
export const jobOnWorker = (job: SweepJob, runsRoot: string): SweepJob => mapJobTeacher(job, (rel) => loadedPath(runsRoot, rel));
