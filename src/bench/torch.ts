/** The PyTorch reference measured in the same run, when this machine has PyTorch. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PYTHON = '/usr/bin/python3';

export interface TorchResult {
  framework: string;
  model: string;
  threads: number;
  train_img_per_s: number;
  infer_img_per_s: number;
}

/** ../shared/bench/torch_reference.py beside the project, or a script given explicitly. */
export function findTorchScript(explicit?: string): string | null {
  const candidates = explicit ? [explicit] : [path.resolve('../shared/bench/torch_reference.py'), path.resolve(process.cwd(), 'bench/torch_reference.py')];
  return candidates.find((p) => existsSync(p)) ?? null;
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
  const { stdout } = await run(PYTHON, [script, '--model', model, '--data', dataDir], { timeout: 600_000, maxBuffer: 1 << 20 });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`${script} printed no RESULT line`);
  return JSON.parse(line.slice('RESULT '.length)) as TorchResult;
}
