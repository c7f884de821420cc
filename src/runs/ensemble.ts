/**
 * Ensembles of trained runs: which runs a `--ensemble` list names, and loading them as one model.
 * A list entry is a run directory, or a folder of runs (a sweep's folder): then every run in it
 * that has finished, in name order.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { averageModels } from '../models/ensemble.js';
import type { TestTimeAugmentation } from '../models/tta.js';
import { UserError } from '../util/errors.js';
import { RunFileCorruptError, RunNotFoundError } from './errors.js';
import { runPath } from './files.js';
import { refuseWhileTraining } from './lock.js';
import { loadRunModel, type LoadedRunModel } from './model.js';
import { hasModelJson, modelFiles } from './model-dir.js';
import { hasRunConfig, readRunConfig, requireRunDir } from './read.js';

/** A run directory: it has a record or a model of its own. */
const isRun = async (dir: string) => (await hasRunConfig(dir)) || (await hasModelJson(runPath(dir, 'model')));

/**
 * The run directories an ensemble list names, each once, in the order given. A folder that is not
 * a run itself stands for its finished runs (a run without a final model, still training or
 * interrupted, is left out and `log` says so); a run named on its own must have finished.
 */
export async function ensembleRunDirs(entries: readonly string[], log: (line: string) => void = () => {}, what: { minMembers: number; name: string } = { minMembers: 2, name: 'an ensemble' }): Promise<string[]> {
  const dirs: string[] = [];
  for (const entry of entries) {
    await requireRunDir(entry);
    if (await isRun(entry)) {
      if (!(await hasModelJson(runPath(entry, 'model')))) throw new UserError(`ensemble member ${entry} has no final model (its training has not finished)`);
      dirs.push(entry);
      continue;
    }
    const names = (await fs.readdir(entry, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    let found = 0;
    const unfinished: string[] = [];
    for (const name of names) {
      const dir = path.join(entry, name);
      if (!(await isRun(dir))) continue;
      if (await hasModelJson(runPath(dir, 'model'))) {
        dirs.push(dir);
        found++;
      } else unfinished.push(name);
    }
    if (unfinished.length) log(`ensemble: ${entry}: left out ${unfinished.length} unfinished run${unfinished.length > 1 ? 's' : ''} (${unfinished.join(', ')})`);
    if (found === 0) throw new RunNotFoundError(entry, 'is neither a run directory nor a folder holding finished runs');
  }
  const seen = new Set<string>();
  for (const d of dirs) {
    const key = path.resolve(d);
    if (seen.has(key)) throw new UserError(`ensemble: ${d} is named twice (each run is one member)`);
    seen.add(key);
  }
  if (dirs.length < what.minMembers) throw new UserError(`${what.name} needs at least ${what.minMembers === 1 ? 'one run' : what.minMembers === 2 ? 'two runs' : `${what.minMembers} runs`}; ${entries.join(',')} gives ${dirs.length}`);
  // Read from the records, so that members asked differently fail before any weights load.
  const ttas = await Promise.all(dirs.map(async (d) => ((await hasRunConfig(d)) ? (await readRunConfig(d)).hyper.tta : 'none')));
  refuseMixedTta(dirs, ttas);
  return dirs;
}

/**
 * The ensemble keeps its members' test-time augmentation, so they must share it: averaging a
 * member's two views with another's one would need a flip inside the model.
 */
function refuseMixedTta(dirs: readonly string[], ttas: readonly TestTimeAugmentation[]): void {
  if (new Set(ttas).size > 1) throw new UserError(`ensemble members differ in test-time augmentation (${dirs.map((d, i) => `${d}: ${ttas[i]}`).join(', ')}): give runs that are asked the same way`);
}

export interface LoadedEnsemble {
  /** The members' averaged probabilities, as one model (models/ensemble.ts). */
  model: tfl.LayersModel;
  /** The members' common test-time augmentation, which the ensemble keeps. */
  tta: TestTimeAugmentation;
  /** Each member's run, record and model name (config.json's, else the model's own). */
  members: { runDir: string; config: LoadedRunModel['config']; model: string }[];
}

/** The members, each loaded and checked as `loadRunModel` does. */
export async function loadEnsembleMembers(runDirs: readonly string[]): Promise<LoadedRunModel[]> {
  const loaded: LoadedRunModel[] = [];
  try {
    for (const dir of runDirs) {
      await refuseWhileTraining(dir);
      loaded.push(await loadRunModel(dir));
    }
  } catch (e) {
    for (const m of loaded) m.model.dispose();
    throw e;
  }
  try {
    refuseMixedTta(runDirs, loaded.map((m) => m.tta));
  } catch (e) {
    for (const m of loaded) m.model.dispose();
    throw e;
  }
  return loaded;
}

/** Loads the runs as one model that averages their probabilities. Call `initBackend()` first. */
export async function loadEnsemble(runDirs: readonly string[], name = 'ensemble'): Promise<LoadedEnsemble> {
  const loaded = await loadEnsembleMembers(runDirs);
  // Named before averageModels renames the members.
  const members = loaded.map((m, i) => ({ runDir: runDirs[i], config: m.config, model: m.config?.model ?? m.model.name }));
  try {
    return { model: averageModels(loaded.map((m) => m.model), name), tta: loaded[0].tta, members };
  } catch (e) {
    for (const m of loaded) m.model.dispose();
    throw e;
  }
}

/**
 * A digest of the runs' final models (model.json and its weight files, by name, run by run): what a
 * distilled run records of its teacher, so that resuming it with a teacher that changed is refused.
 * Other files in a model folder (a note, a .DS_Store) are not the model and do not count.
 */
export async function modelsDigest(runDirs: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const dir of runDirs) {
    const modelDir = runPath(dir, 'model');
    for (const name of await modelFiles(modelDir)) {
      const file = path.join(modelDir, name);
      h.update(name);
      h.update(await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
        throw new RunFileCorruptError(file, `cannot be read (${e.code ?? e.message})`);
      }));
    }
  }
  return h.digest('hex');
}
