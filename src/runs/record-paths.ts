/**
 * The paths a record holds (a distilled run's teacher runs, in a run's config.json and in a
 * sweep's sweep.json) are written relative to the record's own folder and read back as absolute
 * paths. A runs folder moved whole, copied to another machine or mounted elsewhere (a sweep's
 * shared folder) then still finds each student's teacher; the teacher's digest still tells
 * whether it is the same one.
 */
import path from 'node:path';
import type { RunConfig, TrainHyperParams } from './records.js';

/** `hyper` with each teacher run's path mapped. */
export function mapTeacherPaths<H extends Pick<TrainHyperParams, 'distill'>>(hyper: H, map: (p: string) => string): H {
  const { distill } = hyper;
  return distill ? { ...hyper, distill: { ...distill, teacher: distill.teacher.map(map) } } : hyper;
}

/** `p` (absolute, or relative to the working directory) relative to the record's folder `dir`. */
export const storedPath = (dir: string, p: string): string => path.relative(path.resolve(dir), path.resolve(p)) || '.';

/** A stored path read back: absolute (one written absolute reads the same). */
export const loadedPath = (dir: string, p: string): string => path.resolve(dir, p);

function mapRecordPaths(config: RunConfig, map: (p: string) => string): RunConfig {
  return {
    ...config,
    hyper: mapTeacherPaths(config.hyper, map),
    ...(config.teacher ? { teacher: { ...config.teacher, members: config.teacher.members.map((m) => ({ ...m, runDir: map(m.runDir) })) } } : {}),
  };
}

/** The record as config.json holds it: its paths relative to `runDir`. */
export const toStoredPaths = (runDir: string, config: RunConfig): RunConfig => mapRecordPaths(config, (p) => storedPath(runDir, p));

/** The record as the code uses it: its paths absolute. */
export const fromStoredPaths = (runDir: string, config: RunConfig): RunConfig => mapRecordPaths(config, (p) => loadedPath(runDir, p));
