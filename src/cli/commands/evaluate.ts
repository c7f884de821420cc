import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { initBackend } from '../../backend/index.js';
import { loadFashionMnist, toExamples } from '../../data/index.js';
import { loadModel } from '../../models/io.js';
import { evaluateModel, formatEvalResult, recordEvaluation } from '../../evaluate/report.js';
import { locateRunModel, runPath, type RunConfig } from '../../train/record.js';
import { addBackendOption, addDataOptions, printJson, type CommonFlags } from '../common.js';

export async function readRunConfig(runDir: string): Promise<RunConfig | null> {
  try {
    return JSON.parse(await fs.readFile(runPath(runDir, 'config'), 'utf8')) as RunConfig;
  } catch {
    return null;
  }
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('evaluate a run\'s model on the 10,000 test images: loss, accuracy, per-class report, confusion matrix (recorded in eval.json)')
    .argument('<run-dir>', 'a run directory made by `fashion-cnn train`')
    .option('--json', 'print the evaluation as JSON on stdout');
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (runDir: string, f: CommonFlags & { json?: boolean }) => {
    const { dir: modelDir } = await locateRunModel(runDir);
    const config = await readRunConfig(runDir);
    const backend = await initBackend(f.backend);
    process.stderr.write(`backend: ${backend.description}\n`);
    const model = await loadModel(modelDir);
    const data = await loadFashionMnist({ dataDir: f.dataDir, verify: f.verify });
    const epochs = config ? (await fs.readFile(runPath(runDir, 'history'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length : 0;
    const { result } = evaluateModel(model, toExamples(data.test), { phase: 'final', epoch: epochs });
    await recordEvaluation(runDir, config?.model ?? model.name, result);
    model.dispose();
    if (f.json) printJson(result);
    else console.log(formatEvalResult(result));
  });
}
