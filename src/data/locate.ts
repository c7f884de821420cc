/**
 * Where the data set is looked for, in order (DESIGN.md "Data"): --data-dir, $FASHION_MNIST_DIR,
 * ./data/fashion-mnist, /usr/share/datasets/fashion-mnist, then the download cache. An explicit
 * place (the flag or the variable) that lacks the files is an error rather than a silent fall-through,
 * so a typo never quietly trains on other data.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { DATA_FILE_KEYS, ENV, FILE_NAMES, LOCAL_DATA_DIR, SYSTEM_DATA_DIR } from './files.js';
import type { DataFileKey, DataSource } from './types.js';

export interface LocateOptions {
  dataDir?: string;
  /** The download cache root (the data lives in <cacheDir>/fashion-mnist). */
  cacheDir?: string;
  /** Environment to read the variables from; process.env by default (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  /** Directory ./data/fashion-mnist is relative to; process.cwd() by default. */
  cwd?: string;
  /** The system data set folder; overridable so tests need not depend on it. */
  systemDir?: string;
}

export interface LookupStep {
  kind: DataSource['kind'];
  dir: string;
  /** How a message names this step, e.g. "--data-dir" or "$FASHION_MNIST_DIR". */
  label: string;
  explicit: boolean;
}

export interface DirContents {
  files: Partial<Record<DataFileKey, string>>;
  missing: DataFileKey[];
  exists: boolean;
  /** Set when the path exists but is a file, not a folder. */
  notDirectory?: boolean;
}

export interface Located {
  step: LookupStep;
  files: Record<DataFileKey, string>;
}

export interface LocateResult {
  found: Located | null;
  /** Every step looked at, with what it lacked: for the message when nothing is found. */
  tried: { step: LookupStep; contents: DirContents }[];
  /** The download cache step (also tried last), where a download would put the files. */
  cache: LookupStep;
}

/** The cache root: $FASHION_CNN_CACHE, else $XDG_CACHE_HOME/fashion-cnn, else ~/.cache/fashion-cnn. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env[ENV.cache]) return path.resolve(env[ENV.cache] as string);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'fashion-cnn');
  return path.join(os.homedir(), '.cache', 'fashion-cnn');
}

export function lookupSteps(opts: LocateOptions = {}): { steps: LookupStep[]; cache: LookupStep } {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const steps: LookupStep[] = [];
  if (opts.dataDir !== undefined) {
    steps.push({ kind: 'flag', dir: path.resolve(cwd, opts.dataDir), label: '--data-dir', explicit: true });
  }
  const fromEnv = env[ENV.dataDir];
  if (fromEnv) steps.push({ kind: 'env', dir: path.resolve(cwd, fromEnv), label: `$${ENV.dataDir}`, explicit: true });
  steps.push({ kind: 'local', dir: path.resolve(cwd, LOCAL_DATA_DIR), label: `./${LOCAL_DATA_DIR}`, explicit: false });
  steps.push({ kind: 'system', dir: opts.systemDir ?? SYSTEM_DATA_DIR, label: 'the system data set folder', explicit: false });
  const cache: LookupStep = {
    kind: 'download',
    dir: path.join(opts.cacheDir ? path.resolve(cwd, opts.cacheDir) : cacheRoot(env), 'fashion-mnist'),
    label: 'the download cache',
    explicit: false,
  };
  return { steps, cache };
}

/** Finds the four files in a folder, preferring `name.gz` over the plain `name`. */
export async function filesIn(dir: string): Promise<DirContents> {
  let entries: Set<string>;
  try {
    entries = new Set(await fs.readdir(dir));
  } catch (e) {
    return { files: {}, missing: [...DATA_FILE_KEYS], exists: false, notDirectory: (e as NodeJS.ErrnoException).code === 'ENOTDIR' };
  }
  const files: Partial<Record<DataFileKey, string>> = {};
  const missing: DataFileKey[] = [];
  for (const key of DATA_FILE_KEYS) {
    const gz = FILE_NAMES[key];
    const plain = gz.replace(/\.gz$/, '');
    const name = entries.has(gz) ? gz : entries.has(plain) ? plain : null;
    if (name) files[key] = path.join(dir, name);
    else missing.push(key);
  }
  return { files, missing, exists: true };
}

/** Walks the lookup order; throws for an explicit place without the files, returns null-found otherwise. */
export async function locateFashionMnist(opts: LocateOptions = {}): Promise<LocateResult> {
  const { steps, cache } = lookupSteps(opts);
  const tried: LocateResult['tried'] = [];
  for (const step of [...steps, cache]) {
    const contents = await filesIn(step.dir);
    tried.push({ step, contents });
    if (contents.missing.length === 0) {
      return { found: { step, files: contents.files as Record<DataFileKey, string> }, tried, cache };
    }
    if (step.explicit) {
      if (contents.notDirectory) throw new UserError(`${step.label} ${step.dir}: not a directory`);
      if (!contents.exists) throw new UserError(`${step.label} ${step.dir}: no such directory`);
      throw new UserError(`${step.label} ${step.dir}: missing ${contents.missing.map((k) => FILE_NAMES[k]).join(', ')} (plain IDX files without .gz are accepted too)`);
    }
  }
  return { found: null, tried, cache };
}
