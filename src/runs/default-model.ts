/**
 * The shipped default model: a run directory (config.json, history.jsonl, eval.json, model/) at
 * `<package root>/models/default/`, used by `predict` and `classify` when no run is named. The
 * package root is found from this module's own file, so the answer is the same from any working
 * directory, from src/ (tsx) and from dist/src/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { UserError } from '../util/errors.js';
import { locateRunModel } from './model.js';

/** The environment variable that points at another default model (tests, a deployment). */
export const DEFAULT_MODEL_ENV = 'FASHION_CNN_DEFAULT_MODEL';

/** Where the default model lives inside the package. */
export const DEFAULT_MODEL_RELATIVE_PATH = path.join('models', 'default');

/**
 * The default model's run directory: `override` if given, else $FASHION_CNN_DEFAULT_MODEL if set
 * (and not empty), else the one shipped in the package. Nothing is checked here.
 */
export function defaultModelDir(override?: string): string {
  if (override) return override;
  const fromEnv = process.env[DEFAULT_MODEL_ENV];
  if (fromEnv) return fromEnv;
  return path.join(packageRoot(), DEFAULT_MODEL_RELATIVE_PATH);
}

/**
 * The default model's run directory, checked: fails with one line when it holds no model (the
 * package was installed without it, or it is still to be trained).
 */
export async function requireDefaultModel(override?: string): Promise<string> {
  const dir = defaultModelDir(override);
  if (!existsSync(dir)) throw new UserError(`no default model shipped at ${dir}; pass a run directory (fashion-cnn predict --run RUN_DIR IMAGE...)`);
  await locateRunModel(dir).catch((e: unknown) => {
    throw new UserError(`the default model at ${dir} cannot be used: ${e instanceof Error ? e.message : String(e)}; pass a run directory`);
  });
  return dir;
}
