import type { Command } from 'commander';
import { addBackendOption, addDataOptions, printJson, type CommonFlags } from '../common.js';

interface EvaluateFlags extends CommonFlags {
  json?: boolean;
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('evaluate a run\'s model on the 10,000 test images: loss, accuracy, per-class report, confusion matrix (recorded in eval.json)')
    .argument('<run-dir>', 'a run directory made by `fashion-cnn train`')
    .option('--json', 'print the evaluation as JSON on stdout');
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (runDir: string, f: EvaluateFlags) => {
    const { locateRunModel } = await import('../../runs/model.js');
    const { refuseWhileTraining } = await import('../../runs/lock.js');
    await refuseWhileTraining(runDir); // a run being trained is refused first, whatever it holds yet
    await locateRunModel(runDir); // a run without a model fails before the backend starts
    const { evaluateRun } = await import('../../evaluate/run.js');
    const { formatEvalResult } = await import('../../evaluate/report.js');
    const { result } = await evaluateRun({ runDir, backend: f.backend, dataDir: f.dataDir, verify: f.verify });
    if (f.json) printJson(result);
    else console.log(formatEvalResult(result));
  });
}
