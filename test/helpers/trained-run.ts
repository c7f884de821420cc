/**
 * One tiny trained run for the tests that read a trained model but need no run of their own:
 * cnn1, one epoch on 600 Fashion-MNIST images, with its pictures, trained by `fashion-cnn train`
 * (a few seconds). It is made once and kept in the temp folder under a key of what it comes from
 * (the sources in src/ and native/src, package-lock.json, the recipe, Node's version), so the
 * test files of one `npm test`, in both tiers, and later runs on the same sources share one
 * training. It is checked before it is used; a test copies it (copyTrainedRun) before it changes
 * anything in it.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readEvalReport, readHistory, readRunConfig } from '../../src/runs/index.js';
import { REPO_ROOT, runCli, runMain } from './cli.js';

/** The run's recipe: `fashion-cnn train` with these flags (and --run-dir). */
export const TRAINED_RUN_FLAGS = ['--model', 'cnn1', '--limit', '600', '--epochs', '1', '--aug-epochs', '0'] as const;
/** The run's folder name, so its id (config.json's "id") is "tiny" wherever it is copied as runs/tiny. */
const RUN_NAME = 'tiny';
/** What the key is made of, besides the recipe and Node's version. */
const SOURCES = ['src', 'native/src', 'package-lock.json'];
/** How long a test waits for another test file that is training the run. */
const WAIT_MS = 300_000;

function filesUnder(p: string): string[] {
  if (!existsSync(p)) return [];
  return statSync(p).isDirectory() ? readdirSync(p).flatMap((name) => filesUnder(path.join(p, name))) : [p];
}

/** The cache key: a digest of the sources, the recipe and Node's version. */
function key(): string {
  const h = createHash('sha256').update(JSON.stringify([TRAINED_RUN_FLAGS, process.version]));
  for (const file of SOURCES.flatMap((s) => filesUnder(path.join(REPO_ROOT, s))).sort()) h.update(path.relative(REPO_ROOT, file)).update(readFileSync(file));
  return h.digest('hex').slice(0, 16);
}

/** This checkout's folder of cached runs (one checkout's tests never remove another's). */
const home = () => path.join(os.tmpdir(), 'fashion-cnn-test-runs', createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12));

/** Whether `dir` holds a whole run: its record reads back and its model files are there. */
async function whole(dir: string): Promise<boolean> {
  try {
    await readRunConfig(dir);
    if ((await readHistory(dir)).length !== 1) return false;
    if (!(await readEvalReport(dir))?.results.length) return false;
    for (const f of ['model/model.json', 'model/weights.bin', 'curves.png', 'confusion.svg']) if (!(await fs.stat(path.join(dir, f))).isFile()) return false;
    return true;
  } catch {
    return false;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function trainInto(entry: string): Promise<void> {
  const tmp = `${entry}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  const r = await runCli(['train', ...TRAINED_RUN_FLAGS, '--run-dir', path.join(tmp, RUN_NAME)], { timeoutMs: WAIT_MS });
  if (r.code !== 0) throw new Error(`training the shared test run failed (exit ${r.code}): ${r.stderr}`);
  await fs.rm(entry, { recursive: true, force: true });
  await fs.rename(tmp, entry);
  // Runs of sources this checkout no longer has are of no further use.
  for (const name of await fs.readdir(path.dirname(entry))) if (/^[0-9a-f]{16}$/.test(name) && name !== path.basename(entry)) await fs.rm(path.join(path.dirname(entry), name), { recursive: true, force: true });
}

/** Finds the cached run, or trains it; one test file trains while the others wait for it (a lock file). */
async function findOrTrain(): Promise<string> {
  const entry = path.join(home(), key());
  const run = path.join(entry, RUN_NAME);
  const lock = `${entry}.lock`;
  await fs.mkdir(home(), { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await whole(run)) return run;
    const holder: FileHandle | null = await fs.open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return null;
      throw e;
    });
    if (!holder) {
      // Another test file is training it.
      const pid = Number(await fs.readFile(lock, 'utf8').catch(() => ''));
      if (pid > 0 && !alive(pid)) await fs.rm(lock, { force: true }); // its trainer died
      else if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS / 1000} s for another test process (${lock}) to train the shared test run`);
      else await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      await holder.writeFile(String(process.pid));
      await holder.close();
      if (!(await whole(run))) await trainInto(entry);
      if (!(await whole(run))) throw new Error(`the shared test run in ${run} is not whole after training`);
      return run;
    } finally {
      await fs.rm(lock, { force: true });
    }
  }
}

let made: Promise<string> | null = null;
/** The shared trained run's folder (read-only: copy it to change it). */
export function trainedRun(): Promise<string> {
  made ??= findOrTrain();
  return made;
}

/** A copy of the shared trained run at `dest` (made with its parents), for a test that changes or adds files in it. */
export async function copyTrainedRun(dest: string): Promise<string> {
  await fs.cp(await trainedRun(), dest, { recursive: true });
  return dest;
}

/**
 * Two tiny runs that differ (the members of an ensemble, a teacher): a copy of the shared run at
 * `folder`/a, and the same recipe with seed 7 trained at `folder`/b.
 */
export async function twoTinyRuns(folder: string): Promise<[string, string]> {
  const a = await copyTrainedRun(path.join(folder, 'a'));
  const b = path.join(folder, 'b');
  const trained = await runMain(['train', ...TRAINED_RUN_FLAGS, '--seed', '7', '--no-pictures', '--run-dir', b]);
  if (trained.code !== 0) throw new Error(`training the second tiny run failed (exit ${trained.code}): ${trained.stderr}`);
  return [a, b];
}
