/**
 * A sweep's folder: sweep.json (the definition and every job, whole), one run directory per job
 * beside it, and the summary (sweep.json's `summary`, sweep.md). Run directories are ordinary
 * runs: `evaluate`, `predict`, `embed` and `serve --runs SWEEP_DIR` use them unchanged.
 *
 * Workers on other machines reach the folder through a shared runs folder; a marker file at its
 * root (written by the sweep) tells a worker that its --runs is the same folder as the sweep's.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hasRunConfig, readEvalReport, readHistory, runLockHolder } from '../runs/index.js';
import { loadedPath, storedPath } from '../runs/record-paths.js';
import { mapJobTeacher } from './shared-paths.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError, errorMessage } from '../util/errors.js';
import { definitionDifference, type SweepDefinition, type SweepJob } from './definition.js';

export const SWEEP_FILE = 'sweep.json';
export const SWEEP_MARKDOWN = 'sweep.md';
/** At the root of a runs folder: which folder this is, for workers that reach it over a network. */
export const RUNS_MARKER = '.fashion-cnn-runs.json';

export interface SweepRecord {
  format: 1;
  name: string;
  createdAt: string;
  definition: SweepDefinition;
  jobs: SweepJob[];
}

export type { JobState, JobStatus } from './records.js';
import type { JobState, JobStatus } from './records.js';

async function readJson<T>(file: string): Promise<T | null> {
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new UserError(`${file}: cannot be read (${errorMessage(e)})`);
  });
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UserError(`${file} is damaged: not valid JSON (${errorMessage(e)})`);
  }
}

export async function readSweep(dir: string): Promise<SweepRecord | null> {
  const record = await readJson<SweepRecord>(path.join(dir, SWEEP_FILE));
  if (record && (record.format !== 1 || !Array.isArray(record.jobs) || typeof record.definition !== 'object')) throw new UserError(`${path.join(dir, SWEEP_FILE)} is damaged: not a sweep record`);
  return record && { ...record, jobs: record.jobs.map((job) => mapJobTeacher(job, (p) => loadedPath(dir, p))) };
}

/**
 * Records a new sweep in `dir`, or checks that the one recorded there is the same (a second run of
 * the same command resumes it). A different definition is refused in one line.
 */
export async function openSweep(dir: string, name: string, definition: SweepDefinition, jobs: SweepJob[]): Promise<SweepRecord> {
  const recorded = await readSweep(dir);
  if (recorded) {
    const diff = definitionDifference(recorded.definition, definition);
    if (diff) throw new UserError(`${dir} holds another sweep: ${diff}; give another --out, or the recorded definition to resume it`);
    return recorded;
  }
  const stat = await fs.stat(dir).catch(() => null);
  if (stat && !stat.isDirectory()) throw new UserError(`--out ${dir}: exists and is not a folder`);
  if (stat && (await fs.readdir(dir)).length > 0) throw new UserError(`--out ${dir}: holds files but no ${SWEEP_FILE}; give an empty or new folder`);
  await fs.mkdir(dir, { recursive: true });
  const record: SweepRecord = { format: 1, name, createdAt: new Date().toISOString(), definition, jobs };
  await writeSweepFile(dir, record);
  return record;
}

/**
 * Writes sweep.json: the record, its jobs' teacher runs relative to the sweep's folder as a run's
 * config.json holds them (src/runs/record-paths.ts; `readSweep` reads them back absolute).
 */
export async function writeSweepFile(dir: string, record: SweepRecord & { summary?: unknown }): Promise<void> {
  const stored = { ...record, jobs: record.jobs.map((job) => mapJobTeacher(job, (p) => storedPath(dir, p))) };
  await writeFileAtomic(path.join(dir, SWEEP_FILE), JSON.stringify(stored, null, 2) + '\n');
}

/** The runs folder's marker id, written by the first sweep that uses it. */
export async function ensureRunsMarker(runsRoot: string): Promise<string> {
  const file = path.join(runsRoot, RUNS_MARKER);
  const existing = await readJson<{ id?: unknown }>(file);
  if (existing && typeof existing.id === 'string') return existing.id;
  await fs.mkdir(runsRoot, { recursive: true });
  const id = randomUUID();
  await writeFileAtomic(file, JSON.stringify({ id, note: 'written by fashion-cnn sweep: workers check that their --runs is this folder' }) + '\n');
  return id;
}

/**
 * A worker's check of its --runs folder at start: it must exist, be writable, and hold a sweep's
 * marker. Returns the marker id (each job then names the one it expects).
 */
export async function checkRunsFolder(runsRoot: string): Promise<string> {
  const stat = await fs.stat(runsRoot).catch(() => null);
  if (!stat?.isDirectory()) throw new UserError(`--runs ${runsRoot}: no such folder (mount the runs folder the sweep uses)`);
  const probe = path.join(runsRoot, `.write-check-${process.pid}-${randomUUID()}`);
  await fs.writeFile(probe, '').catch((e: unknown) => {
    throw new UserError(`--runs ${runsRoot}: not writable (${errorMessage(e)})`);
  });
  await fs.rm(probe, { force: true });
  const marker = await readJson<{ id?: unknown }>(path.join(runsRoot, RUNS_MARKER));
  if (!marker || typeof marker.id !== 'string') throw new UserError(`--runs ${runsRoot}: holds no ${RUNS_MARKER}, so it is not the runs folder of a sweep (start the sweep first, or mount the folder it uses)`);
  return marker.id;
}

const phasesOf = (job: SweepJob) => (job.hyper.epochs > 0 ? 1 : 0) + (job.hyper.augEpochs > 0 ? 1 : 0);

/** A job's run as it stands: done when its final model is saved and every phase evaluated. */
export async function jobStatus(sweepDir: string, job: SweepJob, running: ReadonlySet<string> = new Set(), failed: ReadonlyMap<string, string> = new Map()): Promise<JobStatus> {
  const runDir = path.join(sweepDir, job.id);
  const plannedEpochs = job.hyper.epochs + job.hyper.augEpochs;
  const base = { id: job.id, config: job.config, model: job.model, seed: job.seed, settings: job.settings, plannedEpochs };
  if (!(await hasRunConfig(runDir))) return { ...base, state: failed.has(job.id) ? 'failed' : running.has(job.id) ? 'running' : 'pending', epochs: 0, valAcc: null, testAcc: null, minutes: 0, ...(failed.has(job.id) ? { error: failed.get(job.id) } : {}) };
  const history = await readHistory(runDir).catch(() => []);
  const evalReport = await readEvalReport(runDir).catch(() => null);
  const hasModel = await fs.stat(path.join(runDir, 'model', 'model.json')).then(() => true, () => false);
  const done = hasModel && (evalReport?.results.filter((r) => r.phase !== 'final').length ?? 0) >= phasesOf(job);
  // A run that a process holds (a worker on any machine, as its lock says) is running.
  const held = !done && (running.has(job.id) || (await runLockHolder(runDir)) !== null);
  const state: JobState = done ? 'done' : failed.has(job.id) ? 'failed' : held ? 'running' : 'pending';
  return {
    ...base,
    state,
    epochs: history.length,
    valAcc: history.at(-1)?.val_acc ?? null,
    testAcc: done ? (evalReport!.results.filter((r) => r.phase !== 'final').at(-1)?.test_acc ?? null) : null,
    minutes: history.reduce((a, r) => a + r.seconds, 0) / 60,
    ...(failed.has(job.id) && !done ? { error: failed.get(job.id) } : {}),
  };
}

/** Whether a job's run is finished (kept as it is when the sweep runs again). */
export async function isJobDone(sweepDir: string, job: SweepJob): Promise<boolean> {
  return (await jobStatus(sweepDir, job)).state === 'done';
}

