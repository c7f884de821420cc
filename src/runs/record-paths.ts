/**
 * The paths a run's config.json holds (a distilled run's teacher runs) are written relative to the
 * run's own directory and read back as absolute paths. A runs folder moved whole, copied to another
 * machine or mounted elsewhere (a sweep's shared folder) then still finds each student's teacher;
 * the teacher's digest still tells whether it is the same one.
 */
import path from 'node:path';
import type { RunConfig } from './records.js';

function mapRecordPaths(config: RunConfig, map: (p: string) => string): RunConfig {
  const { distill } = config.hyper;
  return {
    ...config,
    hyper: { ...config.hyper, distill: distill && { ...distill, teacher: distill.teacher.map(map) } },
    ...(config.teacher ? { teacher: { ...config.teacher, members: config.teacher.members.map((m) => ({ ...m, runDir: map(m.runDir) })) } } : {}),
  };
}

/** The record as config.json holds it: its paths relative to `runDir`. */
export const toStoredPaths = (runDir: string, config: RunConfig): RunConfig =>
  mapRecordPaths(config, (p) => (path.isAbsolute(p) ? path.relative(path.resolve(runDir), p) || '.' : p));

/** The record as the code uses it: its paths absolute (a record written with absolute ones reads the same). */
export const fromStoredPaths = (runDir: string, config: RunConfig): RunConfig =>
  mapRecordPaths(config, (p) => path.resolve(runDir, p));
