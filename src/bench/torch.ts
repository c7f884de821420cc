/**
 * The PyTorch reference measured in the same run, when this machine has PyTorch. Each model has
 * its reference script: the shared one knows the article's CNNs, `bench/torch_best.py` (in this
 * project) knows `best`; `--torch-script` replaces them for every model or for named ones.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/package-root.js';
import { userEnvironment } from '../backend/index.js';

const run = promisify(execFile);

export const PYTHON = '/usr/bin/python3';

/** One reference run (best's training and inference take about a minute on a busy 2-core host). */
const TORCH_TIMEOUT_MS = 600_000;

export interface TorchResult {
  framework: string;
  model: string;
  threads: number;
  train_img_per_s: number;
  infer_img_per_s: number;
}

/** Where a reference script is looked for: beside the project (cwd) or inside the package. */
type ScriptHome = 'beside' | 'package';

interface TorchReference {
  home: ScriptHome;
  file: string;
  models: readonly string[];
}

/** Which script measures which models (a model not listed has no PyTorch equivalent). */
export const TORCH_REFERENCES: readonly TorchReference[] = [
  { home: 'beside', file: '../shared/bench/torch_reference.py', models: ['cnn1', 'cnn3', 'cnn4'] },
  { home: 'package', file: 'bench/torch_best.py', models: ['best'] },
];

function referencePath(ref: TorchReference): string {
  return ref.home === 'package' ? path.join(packageRoot(), ref.file) : path.resolve(ref.file);
}

/**
 * `--torch-script`: one file, used for every model, or `MODEL=FILE,...`, replacing the default
 * script of the models named. Throws a UserError on a malformed list.
 */
export function parseTorchScriptFlag(flag: string): { all?: string; perModel: Map<string, string> } {
  const perModel = new Map<string, string>();
  const items = flag.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UserError(`--torch-script: expected a file or MODEL=FILE,..., got "${flag}"`);
  if (items.length === 1 && !/^[\w-]+=/.test(items[0])) return { all: items[0], perModel };
  for (const item of items) {
    const m = /^([\w-]+)=(.+)$/.exec(item);
    if (!m) throw new UserError(`--torch-script: "${item}" is not MODEL=FILE (give one file, or MODEL=FILE,...)`);
    if (perModel.has(m[1])) throw new UserError(`--torch-script: ${m[1]} is named twice`);
    perModel.set(m[1], m[2]);
  }
  return { perModel };
}

/**
 * The reference script of each model: a path, or null when the model has no PyTorch equivalent
 * or its default script is not on this machine. A script given explicitly must exist.
 */
export function torchScripts(models: readonly string[], flag?: string): Map<string, string | null> {
  const explicit = flag === undefined ? { perModel: new Map<string, string>() } : parseTorchScriptFlag(flag);
  for (const m of explicit.perModel.keys()) {
    if (!models.includes(m)) throw new UserError(`--torch-script names ${m}, which is not among the models measured (${models.join(', ')})`);
  }
  const scripts = new Map<string, string | null>();
  for (const model of models) {
    const given = explicit.perModel.get(model) ?? explicit.all;
    if (given !== undefined) {
      const file = path.resolve(given);
      if (!existsSync(file)) throw new UserError(`--torch-script ${given}: no such file`);
      scripts.set(model, file);
      continue;
    }
    const ref = TORCH_REFERENCES.find((r) => r.models.includes(model));
    const file = ref ? referencePath(ref) : null;
    scripts.set(model, file !== null && existsSync(file) ? file : null);
  }
  return scripts;
}

export async function torchAvailable(): Promise<boolean> {
  try {
    await run(PYTHON, ['-c', 'import torch'], { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

export async function measureTorch(script: string, model: string, dataDir: string): Promise<TorchResult> {
  let stdout: string;
  try {
    // PyTorch runs with the user's environment, not the OpenMP settings we chose for ourselves.
    ({ stdout } = await run(PYTHON, [script, '--model', model, '--data', dataDir], { timeout: TORCH_TIMEOUT_MS, maxBuffer: 1 << 20, env: userEnvironment() }));
  } catch (e) {
    // The script's own last words (a failed check, a traceback's last line) say more than "Command failed".
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim().split('\n').pop();
    throw new Error(`${path.basename(script)} --model ${model} failed${stderr ? `: ${stderr}` : ''}`, { cause: e });
  }
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`${script} printed no RESULT line`);
  return JSON.parse(line.slice('RESULT '.length)) as TorchResult;
}
